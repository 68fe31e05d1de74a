/**
 * Who is calling the Teams personal tab's API (docs/ARCHITECTURE.md, "Teams channel", "Personal
 * tab"): the Entra ID access token Teams hands the tab (`authentication.getAuthToken`), checked
 * here with jose. Accepted only when it is signed by one of the tenant's published signing keys
 * (OpenID metadata of `{authority}/{tenant}/v2.0`, cached), was issued by that tenant (v1
 * `https://sts.windows.net/{tid}/` or the metadata's v2 issuer), is meant for this app (its client
 * id, `api://{host}/{app id}` for a host Latch is reached at, or `api://{app id}`), carries the
 * `access_as_user` scope, is within its lifetime, and names a tenant Latch serves.
 *
 * The person is the token's `preferred_username` (else `upn`, else `email`), lower-cased, with the
 * Entra object id as an alias: the identity the bot gives the same person (bot.ts, identify()).
 */
import {
  createRemoteJWKSet,
  decodeJwt,
  errors,
  jwtVerify,
  type JWTPayload,
  type JWTVerifyGetKey,
} from 'jose';
import { z } from 'zod';
import { normalizeEmail, type Identity } from '../../domain/identity.js';

/** Entra ID's login host in the public cloud. */
export const ENTRA_AUTHORITY = 'https://login.microsoftonline.com';
/** The scope the tab's API asks for (README, "Set up SSO for the tab"). */
export const TAB_SCOPE = 'access_as_user';

export interface TabSsoSettings {
  /** MicrosoftAppId: the app registration the tokens are for. */
  appId: string;
  /** Hosts Latch is reached at: `api://{host}/{appId}` is accepted as the audience for each. */
  hosts: string[];
  /** Entra tenant ids whose people may use the tab. */
  tenants: string[];
  /** Entra's login authority without a trailing slash; the public cloud's by default (tests: a stand-in). */
  authority?: string;
  /** Seconds of clock difference tolerated on `exp` and `nbf`; default 60. */
  clockToleranceSeconds?: number;
  /** How long a tenant's OpenID metadata is kept; default 24 hours. */
  metadataMaxAgeMs?: number;
}

export type SsoOutcome =
  | { ok: true; identity: Identity; tenantId: string }
  /** `status` 401: the token is missing or not acceptable; 503: the signing keys could not be had. */
  | { ok: false; status: 401 | 503; reason: string };

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const metadataSchema = z.object({ issuer: z.string().min(1), jwks_uri: z.url() });

interface TenantKeys {
  /** The v2 issuer for this tenant, from its metadata. */
  issuer: string;
  keys: JWTVerifyGetKey;
}

function refuse(reason: string): SsoOutcome {
  return { ok: false, status: 401, reason };
}

export class TabSso {
  private readonly authority: string;
  private readonly audiences: string[];
  private readonly tenants: Set<string>;
  private readonly byTenant = new Map<string, { at: number; value: Promise<TenantKeys> }>();

  constructor(private readonly settings: TabSsoSettings) {
    this.authority = (settings.authority ?? ENTRA_AUTHORITY).replace(/\/+$/, '');
    const appId = settings.appId.toLowerCase();
    this.audiences = [
      appId,
      `api://${appId}`,
      ...settings.hosts.map((h) => `api://${h.toLowerCase()}/${appId}`),
    ];
    this.tenants = new Set(settings.tenants.map((t) => t.toLowerCase()));
  }

  /** Checks an `Authorization` header; never throws. */
  async verify(authorization: string | undefined, now = new Date()): Promise<SsoOutcome> {
    const match = /^Bearer\s+(\S+)$/i.exec(authorization?.trim() ?? '');
    if (!match) return refuse('missing bearer token');
    const token = match[1]!;
    let unverified: JWTPayload;
    try {
      unverified = decodeJwt(token);
    } catch {
      return refuse('malformed token');
    }
    // Which tenant's keys to check it with; the claim is checked again once the signature is.
    const claimedTenant = typeof unverified.tid === 'string' ? unverified.tid.toLowerCase() : '';
    if (!GUID.test(claimedTenant) || !this.tenants.has(claimedTenant)) return refuse('tenant not allowed');

    let payload: JWTPayload;
    try {
      const tenant = await this.tenantKeys(claimedTenant);
      ({ payload } = await jwtVerify(token, tenant.keys, {
        algorithms: ['RS256'],
        issuer: [`https://sts.windows.net/${claimedTenant}/`, tenant.issuer],
        audience: this.audiences,
        clockTolerance: this.settings.clockToleranceSeconds ?? 60,
        currentDate: now,
        requiredClaims: ['exp', 'iss', 'aud', 'tid'],
      }));
    } catch (err) {
      return this.refusalFor(err);
    }
    if (String(payload.tid).toLowerCase() !== claimedTenant) return refuse('tenant not allowed');
    const scopes = typeof payload.scp === 'string' ? payload.scp.split(' ') : [];
    if (!scopes.includes(TAB_SCOPE)) return refuse(`missing scope ${TAB_SCOPE}`);
    const identity = identityOf(payload);
    if (!identity) return refuse('no user in token');
    return { ok: true, identity, tenantId: claimedTenant };
  }

  private refusalFor(err: unknown): SsoOutcome {
    if (err instanceof errors.JWTExpired) return refuse('token expired');
    if (err instanceof errors.JWTClaimValidationFailed) {
      if (err.claim === 'aud') return refuse('wrong audience');
      if (err.claim === 'iss') return refuse('wrong issuer');
      if (err.claim === 'nbf') return refuse('token not yet valid');
      return refuse(`bad claim ${err.claim}`);
    }
    if (
      err instanceof errors.JWSSignatureVerificationFailed ||
      err instanceof errors.JWKSNoMatchingKey ||
      err instanceof errors.JWKSMultipleMatchingKeys
    )
      return refuse('bad signature');
    if (err instanceof errors.JOSEAlgNotAllowed) return refuse('bad signature algorithm');
    if (
      err instanceof errors.JWSInvalid ||
      err instanceof errors.JWTInvalid ||
      err instanceof errors.JOSENotSupported
    )
      return refuse('malformed token');
    // The metadata or the key set could not be fetched or read: nothing the caller can fix.
    return { ok: false, status: 503, reason: 'signing keys unavailable' };
  }

  /** The tenant's v2 issuer and signing keys, from its OpenID metadata (cached; a failure is not). */
  private tenantKeys(tenant: string): Promise<TenantKeys> {
    const maxAge = this.settings.metadataMaxAgeMs ?? 24 * 3600_000;
    const cached = this.byTenant.get(tenant);
    if (cached && Date.now() - cached.at < maxAge) return cached.value;
    const value = this.fetchTenantKeys(tenant);
    const entry = { at: Date.now(), value };
    this.byTenant.set(tenant, entry);
    value.catch(() => {
      if (this.byTenant.get(tenant) === entry) this.byTenant.delete(tenant);
    });
    return value;
  }

  private async fetchTenantKeys(tenant: string): Promise<TenantKeys> {
    const url = `${this.authority}/${tenant}/v2.0/.well-known/openid-configuration`;
    let metadata: z.infer<typeof metadataSchema>;
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(5_000) });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      metadata = metadataSchema.parse(await response.json());
    } catch (err) {
      throw new Error(`OpenID metadata of tenant ${tenant}: ${(err as Error).message}`, { cause: err });
    }
    return {
      // The common endpoints' metadata says {tenantid}; a tenant's own says the tenant.
      issuer: metadata.issuer.replace('{tenantid}', tenant),
      keys: createRemoteJWKSet(new URL(metadata.jwks_uri), { timeoutDuration: 5_000 }),
    };
  }
}

/** The Latch identity a verified token names (undefined without a usable email). */
export function identityOf(payload: JWTPayload): Identity | undefined {
  const claim = (name: string) => (typeof payload[name] === 'string' ? (payload[name] as string) : undefined);
  const email = [claim('preferred_username'), claim('upn'), claim('email')].find((v) => v?.includes('@'));
  if (!email) return undefined;
  const oid = claim('oid');
  const name = claim('name');
  return {
    id: normalizeEmail(email),
    email: normalizeEmail(email),
    ...(name ? { displayName: name } : {}),
    groups: [],
    aliases: oid ? [oid] : [],
  };
}
