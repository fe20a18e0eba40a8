import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload } from 'jose';
import { ROLES, type Principal, type Role } from '../../domain/principals';

export interface OidcSettings {
  issuer: string;
  audience: string;
  jwksUrl: string;
  /** The claim that names the principal (default `sub`). */
  principalClaim: string;
  /** The claim listing the principal's roles (default `roles`); names that are not roles are ignored. */
  rolesClaim: string;
}

/** OIDC access tokens (JWTs) verified with jose against the issuer's JWKS: signature, issuer, audience, expiry. */
export class OidcVerifier {
  private readonly jwks: ReturnType<typeof createRemoteJWKSet>;

  constructor(private readonly settings: OidcSettings) {
    this.jwks = createRemoteJWKSet(new URL(settings.jwksUrl));
  }

  /** The principal, or why the token is refused. */
  async verify(token: string): Promise<{ principal: Principal } | { refused: string }> {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.jwks, { issuer: this.settings.issuer, audience: this.settings.audience }));
    } catch (err) {
      if (err instanceof errors.JOSEError) return { refused: `JWT refused: ${err.code}` };
      throw err;
    }
    const name = payload[this.settings.principalClaim];
    if (typeof name !== 'string' || name === '') return { refused: `JWT has no ${this.settings.principalClaim} claim` };
    const claimed = payload[this.settings.rolesClaim];
    const roles = (Array.isArray(claimed) ? claimed : []).filter((r): r is Role => (ROLES as readonly unknown[]).includes(r));
    return { principal: { name, roles, via: 'oidc' } };
  }
}
