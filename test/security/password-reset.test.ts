/**
 * Attacks on "Forgot password?": telling which addresses have accounts (by the page or by its
 * timing, with a mail server slow enough that waiting for it would show), mail floods (per
 * address and per client address), and reset forms posted without their link's token.
 */
import { resetLink, startMailbox, type Mailbox } from '../helpers/mailbox.js';
import { headingOf, openForgot, requestReset, useResetLink, type ForgotPage } from '../helpers/self-service.js';
import { addUser, csrfFrom, median, setup, UserAgent, type Env } from './helpers.js';

/** How long the mail server takes to accept a message. */
const slowMail = 400;

let mailbox: Mailbox;
let env: Env;
beforeAll(async () => {
  mailbox = await startMailbox({ delayMs: slowMail });
  env = await setup({ email: { smtpUrl: mailbox.url }, proxy: true });
});
afterAll(async () => {
  await env.server.stop();
  await mailbox.close();
});

const users = Array.from({ length: 8 }, (_, i) => ({ username: `person${i}`, password: `person${i} has a long passphrase`, email: `person${i}@example.com`, name: `Person ${i}` }));
beforeAll(async () => {
  for (const u of users) await addUser(env.server.store, u);
});

let address = 0;
/** A client address of its own for each request (the server trusts X-Forwarded-For here). */
const fresh = () => ({ 'x-forwarded-for': `203.0.113.${(address += 1)}` });
/** The page with what differs by request taken out: the typed address and the form's tokens. */
const same = (html: string, email: string) => html.replaceAll(email, 'EMAIL').replace(/\/interaction\/[^"/]+/g, '/interaction/UID');

test('an unknown address gets the same page as a known one, no mail, in about the same time (medians of 5)', async () => {
  const page = await openForgot(env.url);
  await requestReset(page, 'warm-up@example.com', fresh());
  const known: number[] = [];
  const unknown: number[] = [];
  let pages: [string, string] | undefined;
  for (let i = 0; i < 5; i += 1) {
    const k = await requestReset(page, users[i]!.email, fresh());
    const u = await requestReset(page, `nobody${i}@example.com`, fresh());
    expect([k.status, u.status]).toEqual([200, 200]);
    known.push(k.ms);
    unknown.push(u.ms);
    pages ??= [same(k.html, users[i]!.email), same(u.html, `nobody${i}@example.com`)];
  }
  expect(pages![0]).toBe(pages![1]);
  const [k, u] = [median(known), median(unknown)];
  // The answer never waits for the mail server (400 ms a message here).
  expect(k).toBeLessThan(slowMail / 2);
  expect(Math.abs(k - u)).toBeLessThan(slowMail / 4);
  for (let i = 0; i < 5; i += 1) expect((await mailbox.next(users[i]!.email)).link).toContain('/reset-password?token=');
  expect(mailbox.received.filter((m) => m.to.some((to) => to.startsWith('nobody')))).toEqual([]);
});

test('at most 3 emails an hour to one address, 10 from one client address; past that the same page and no mail', async () => {
  const page = await openForgot(env.url);
  const target = users[5]!;
  const answers: string[] = [];
  for (let i = 0; i < 5; i += 1) answers.push(same((await requestReset(page, target.email, fresh())).html, target.email));
  expect(new Set(answers).size).toBe(1);
  expect(await mailbox.settle(target.email, slowMail + 600)).toHaveLength(3);
  // The address's limit holds whatever case it is typed in.
  await requestReset(page, target.email.toUpperCase(), fresh());
  expect(await mailbox.settle(target.email, slowMail + 200)).toHaveLength(0);

  const one = fresh();
  for (let i = 0; i < 10; i += 1) await requestReset(page, `stranger${i}@example.com`, one);
  const blocked = await requestReset(page, users[6]!.email, one);
  expect([blocked.status, headingOf(blocked.html)]).toEqual([200, 'Check your email']);
  expect(await mailbox.settle(users[6]!.email, slowMail + 200)).toHaveLength(0);
  await requestReset(page, users[6]!.email, fresh());
  expect(await mailbox.next(users[6]!.email)).toBeDefined();
});

test('the reset form is bound to its link: no token, another link\'s token or a forged one is refused (403)', async () => {
  const target = users[7]!;
  const page: ForgotPage = await openForgot(env.url);
  await requestReset(page, target.email, fresh());
  const mine = resetLink(await mailbox.next(target.email));
  await requestReset(page, 'person0@example.com', fresh());
  const other = resetLink(await mailbox.next('person0@example.com'));
  const otherCsrf = csrfFrom(await (await fetch(other)).text());
  const ua = new UserAgent();
  const token = mine.searchParams.get('token')!;
  for (const csrf of [undefined, otherCsrf, 'A'.repeat(43)]) {
    const res = await ua.postForm(`${env.url}/reset-password`, { ...(csrf ? { csrf } : {}), token, password: 'taken over passphrase' });
    expect(res.status).toBe(403);
  }
  // Forms are bound to the login page's interaction too.
  const forged = await page.ua.postForm(page.action, { csrf: otherCsrf, email: target.email });
  expect(forged.status).toBe(403);
  // The link still works for its owner.
  expect((await useResetLink(mine, 'my own new passphrase')).status).toBe(200);
});
