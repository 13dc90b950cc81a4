/**
 * A browser without the browser: real HTTP with a cookie jar and manual redirects, for driving
 * the login and consent pages in flow tests. (The Chromium test drives the same pages for real.)
 */
export class UserAgent {
  readonly cookies = new Map<string, string>();

  private remember(res: Response) {
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      if (/expires=Thu, 01 Jan 1970/i.test(line) || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  async request(url: string | URL, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.cookies.size) headers.set('cookie', [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '));
    if (!headers.has('accept')) headers.set('accept', 'text/html');
    const res = await fetch(url, { ...init, headers, redirect: 'manual' });
    this.remember(res);
    return res;
  }

  postForm(url: string | URL, form: Record<string, string>): Promise<Response> {
    return this.request(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(form).toString(),
    });
  }

  /**
   * Follows redirects from `url` until one leaves the server (returned as a URL, e.g. the
   * client's callback) or a page is served (returned as the Response).
   */
  async follow(url: string | URL, issuer: string, first?: Response): Promise<{ page?: Response; url: URL; left?: URL }> {
    let current = new URL(url);
    let res = first ?? (await this.request(current));
    for (let hops = 0; hops < 10; hops += 1) {
      const location = res.headers.get('location');
      if (res.status < 300 || res.status >= 400 || !location) return { page: res, url: current };
      current = new URL(location, current);
      if (!current.href.startsWith(issuer)) return { url: current, left: current };
      res = await this.request(current);
    }
    throw new Error('too many redirects');
  }
}

export const csrfFrom = (html: string): string => {
  const match = /name="csrf" value="([^"]+)"/.exec(html);
  if (!match) throw new Error('no csrf field on the page');
  return match[1]!;
};
