import { configDefaults } from '../../src/config/schema.js';
import { cookieKeyRetention, signingKeyRetention } from '../../src/keys/retention.js';

describe('how long retired keys stay published', () => {
  const config = configDefaults();

  test('a retired signing key outlives every token it may have signed, plus the nodes\' refresh lag', () => {
    expect(signingKeyRetention(config, [])).toBe(3600 + 60);
    const longer = { ...config, ttl: { ...config.ttl, idToken: 7200 } };
    expect(signingKeyRetention(longer, [])).toBe(7200 + 60);
  });

  test('an API registered with a longer --ttl keeps retired keys published that much longer (its tokens still verify)', () => {
    expect(signingKeyRetention(config, [{ accessTokenTtl: null }, { accessTokenTtl: 86_400 }, { accessTokenTtl: 60 }])).toBe(86_400 + 60);
  });

  test('a retired cookie key keeps verifying cookies as long as a session lives', () => {
    expect(cookieKeyRetention(config)).toBe(config.ttl.session + 60);
  });
});
