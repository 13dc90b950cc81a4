import { Html } from '../pages/html.js';

/**
 * A QR code as inline SVG markup for a page (the page labels it: the SVG itself is hidden from
 * screen readers). qrcode draws with presentation attributes (fill, stroke), which the CSP
 * allows; a style attribute or element (which style-src 'self' blocks) or anything scriptable is
 * refused rather than served. qrcode is loaded on first use (only TOTP enrolment draws one).
 */
export async function qrCodeSvg(text: string): Promise<Html> {
  const { default: QRCode } = await import('qrcode');
  const svg = (await QRCode.toString(text, { type: 'svg', margin: 2, errorCorrectionLevel: 'M' })).trim();
  if (!svg.startsWith('<svg ') || /style|script|\son\w+=|href/i.test(svg)) throw new Error('qrcode produced markup the page cannot carry');
  return new Html(svg.replace('<svg ', '<svg aria-hidden="true" focusable="false" '));
}
