/**
 * What both servers under test are seeded with: one user, a machine client (client_credentials)
 * and a web client (authorization code + refresh token). Both servers get exactly these.
 */
export const user = {
  username: 'alice',
  password: 'correct horse battery staple',
  email: 'alice@example.com',
  name: 'Alice Liddell',
};

export const redirectUri = 'http://127.0.0.1:8080/callback'; // never contacted: the flow stops at the redirect

export const machineClient = {
  client_id: 'bench-m2m',
  client_secret: 'bench-m2m-secret-0123456789-abcdefghijklmnopqrstuvwxyz',
  client_name: 'Bench machine client',
  grant_types: ['client_credentials'],
  response_types: [],
  redirect_uris: [],
  token_endpoint_auth_method: 'client_secret_basic',
};

export const webClient = {
  client_id: 'bench-web',
  client_secret: 'bench-web-secret-0123456789-abcdefghijklmnopqrstuvwxyz',
  client_name: 'Bench web app',
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
  redirect_uris: [redirectUri],
  token_endpoint_auth_method: 'client_secret_basic',
};

export const clients = [machineClient, webClient];

export const basicAuth = (client) =>
  `Basic ${Buffer.from(`${encodeURIComponent(client.client_id)}:${encodeURIComponent(client.client_secret)}`).toString('base64')}`;

/** The resource server the baseline issues JWT access tokens for (scenario 4); an identifier only. */
export const jwtResource = 'urn:bench:api';
export const jwtScope = 'api:read';
