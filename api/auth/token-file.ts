import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { PrincipalNameSchema, RoleSchema, type KnownPrincipals, type Principal, type Role } from '../../domain/principals';

/**
 * Bearer API tokens, kept in a JSON file as sha256 hashes: the token itself is
 * shown once, when it is made, and is never stored. A token reads
 * `gpuaas_<id>_<secret>`; the id finds the row, the hash of the whole token must
 * match. The file is re-read when it changes, so a deleted token (or every token
 * of a removed principal) stops working at once.
 */
const TokenRecordSchema = z
  .object({
    id: z.string().regex(/^[a-f0-9]{12}$/),
    principal: PrincipalNameSchema,
    roles: z.array(RoleSchema).min(1),
    sha256: z.string().regex(/^[a-f0-9]{64}$/),
    description: z.string().max(200).default(''),
    created_at: z.string(),
  })
  .strict();
export type TokenRecord = z.infer<typeof TokenRecordSchema>;
const TokenFileSchema = z.object({ tokens: z.array(TokenRecordSchema) }).strict();

const TOKEN_PATTERN = /^gpuaas_([a-f0-9]{12})_([A-Za-z0-9_-]{43})$/;
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

export class TokenFile implements KnownPrincipals {
  private cached: { key: string; tokens: TokenRecord[] } | undefined;

  constructor(readonly file: string) {}

  /** The principal a token belongs to, or undefined for a token that is unknown, deleted or malformed. */
  authenticate(token: string): Principal | undefined {
    const m = TOKEN_PATTERN.exec(token);
    if (!m) return undefined;
    const record = this.list().find((t) => t.id === m[1]);
    if (!record) return undefined;
    const given = Buffer.from(sha256(token), 'hex');
    const stored = Buffer.from(record.sha256, 'hex');
    if (!timingSafeEqual(given, stored)) return undefined;
    return { name: record.principal, roles: record.roles, via: 'token', token_id: record.id };
  }

  rolesOf(principal: string): Role[] | undefined {
    const roles = this.list()
      .filter((t) => t.principal === principal)
      .flatMap((t) => t.roles);
    return roles.length ? [...new Set(roles)] : undefined;
  }

  list(): TokenRecord[] {
    let stat: fs.Stats;
    try {
      stat = fs.statSync(this.file);
    } catch {
      return [];
    }
    const key = `${stat.mtimeMs}/${stat.size}/${stat.ino}`;
    if (this.cached?.key !== key) this.cached = { key, tokens: readTokens(this.file) };
    return this.cached.tokens;
  }

  /** Makes a token; returns it (the only time it is seen) and its stored record. */
  create(principal: string, roles: Role[], description = ''): { token: string; record: TokenRecord } {
    const id = randomBytes(6).toString('hex');
    const token = `gpuaas_${id}_${randomBytes(32).toString('base64url')}`;
    const record = TokenRecordSchema.parse({ id, principal, roles, sha256: sha256(token), description, created_at: new Date().toISOString() });
    this.write([...this.list(), record]);
    return { token, record };
  }

  /** Deletes one token by id, or every token of a principal; returns how many went. */
  delete(which: { id: string } | { principal: string }): number {
    const before = this.list();
    const after = before.filter((t) => ('id' in which ? t.id !== which.id : t.principal !== which.principal));
    if (after.length !== before.length) this.write(after);
    return before.length - after.length;
  }

  /** Atomically, readable by the owner only. */
  private write(tokens: TokenRecord[]): void {
    fs.mkdirSync(path.dirname(this.file), { recursive: true });
    const tmp = `${this.file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, `${JSON.stringify({ tokens }, null, 2)}\n`, { mode: 0o600 });
    fs.renameSync(tmp, this.file);
    this.cached = undefined;
  }
}

function readTokens(file: string): TokenRecord[] {
  const parsed = TokenFileSchema.safeParse(JSON.parse(fs.readFileSync(file, 'utf8')));
  if (!parsed.success) {
    throw new Error(`invalid tokens file ${file}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  return parsed.data.tokens;
}
