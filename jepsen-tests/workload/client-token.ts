// The token a workload's WebSocket client binds with: HS256 under the app's
// tokenSecret, claims sub (the user), app and exp (an hour from now).
import { SignJWT } from 'jose';

export function clientToken(app: string, user: string, secret: string): Promise<string> {
  return new SignJWT({ app })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(user)
    .setExpirationTime(Math.floor(Date.now() / 1000) + 3600)
    .sign(new TextEncoder().encode(secret));
}
