// Client tokens: HS256 JWT with claims sub, app and exp, signed with the app's tokenSecret.
import { SignJWT } from 'jose';

export function clientToken(secret: string, app: string, user: string, ttlSeconds = 3600): Promise<string> {
  return new SignJWT({ app })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(user)
    .setExpirationTime(Math.floor(Date.now() / 1000) + ttlSeconds)
    .sign(new TextEncoder().encode(secret));
}
