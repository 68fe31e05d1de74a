/**
 * Builds the SCRAM-SHA-256 verifier PostgreSQL stores for a password (RFC 5802/7677, PostgreSQL's
 * `SCRAM-SHA-256$iter:salt$StoredKey:ServerKey` format). Sending the verifier instead of the
 * password keeps the plaintext out of server logs (log_statement=ddl) and statement statistics.
 */
import { createHash, createHmac, pbkdf2, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';

const pbkdf2Async = promisify(pbkdf2);
const ITERATIONS = 4096; // PostgreSQL's own default (scram_iterations)

/** `password` must be ASCII: SASLprep is then the identity and need not be implemented. */
export async function scramSha256Verifier(password: string, salt: Buffer = randomBytes(16)): Promise<string> {
  if (!/^[\x20-\x7e]*$/.test(password))
    throw new Error('scramSha256Verifier: password must be printable ASCII');
  const salted = await pbkdf2Async(password, salt, ITERATIONS, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  const b64 = (b: Buffer) => b.toString('base64');
  return `SCRAM-SHA-256$${ITERATIONS}:${b64(salt)}$${b64(storedKey)}:${b64(serverKey)}`;
}

/** 192 random bits, URL-safe so it survives connection strings and chat messages unescaped. */
export const generatePassword = (): string => randomBytes(24).toString('base64url');
