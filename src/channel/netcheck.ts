/**
 * The gateway's SOCKS5 allow-list (`allowed_hosts`, `allowed_ports`) and the one decision the gateway
 * makes per OpenConnection: `NetworkChecker#resolveAllowed(host, port)` → the exact address to connect
 * to, or the refusal (SOCKS reply code, CloseConnection reason, message).
 *
 * Semantics follow the original (docs/ORIGINAL.md, “Modes and settings”) with its bugs fixed (“Quirks of the original”):
 * - no host rules at all → resolve and allow;
 * - exact name (case-insensitive) or `*.suffix` (the apex does not match) → resolve, first address;
 * - IP literal → allowed iff inside an allowed CIDR / address (`0.0.0.0` = all IPv4, `::` = all IPv6);
 * - other names → only when CIDRs exist: resolve all addresses and use the first one inside a CIDR
 *   (the original connected to the first resolved address even when another one matched);
 * - `allowed_ports` empty → every port 1..65535.
 * The caller connects to the returned address: no second resolution, so no DNS rebinding.
 * Destinations are canonicalised first: IPv4-mapped IPv6 → IPv4, IPv6 → compressed lower-case, and
 * numeric hosts that are not a plain dotted quad (`127.1`, `0x7f.1`, `2130706433`, `0177.0.0.1`) are
 * refused rather than handed to a resolver that would read them as an address.
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import { BlockList, isIPv6 } from 'node:net';
import ipaddr from 'ipaddr.js';
import { ErrorCode, TubesError } from '../errors.ts';
import { gatewayRefusal, type SocksRefusal } from '../protocol/socks5/reply-policy.ts';

export interface LookupAddress {
  readonly address: string;
  readonly family: number;
}

/** Resolves a name to all its addresses, in resolver order. */
export type LookupFn = (hostname: string) => Promise<readonly LookupAddress[]>;

export interface NetworkCheckerOptions {
  /** Default: `dns.promises.lookup(name, { all: true, order: 'verbatim' })`. */
  readonly lookup?: LookupFn | undefined;
  /** Give up on a lookup after this long (default 10 s). */
  readonly lookupTimeoutMs?: number | undefined;
  /** Cache successful lookups of the default/constructor lookup this long (default 30 s; 0 = off). */
  readonly cacheTtlMs?: number | undefined;
  /** Cache entries kept at most (default 256; the oldest is evicted first). */
  readonly cacheMaxEntries?: number | undefined;
  /** Clock for the cache (tests). */
  readonly now?: (() => number) | undefined;
}

export type ResolveResult =
  | { readonly ok: true; readonly address: string; readonly family: 4 | 6 }
  | ({ readonly ok: false } & SocksRefusal);

export type CanonicalHost =
  | { readonly kind: 'ip'; readonly address: string; readonly family: 4 | 6 }
  | { readonly kind: 'name'; readonly name: string }
  | { readonly kind: 'invalid'; readonly why: string };

// ---------------------------------------------------------------------------------------------------
// Canonical forms

const OCTET = '(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])';
/** Four decimal octets, no leading zeros: the only IPv4 text form accepted. */
const DOTTED_QUAD = new RegExp(`^${OCTET}(?:\\.${OCTET}){3}$`);
/** A label a resolver (inet_aton, WHATWG URL) could read as a number. */
const NUMERIC_LABEL = /^(?:0x[0-9a-f]*|[0-9]+)$/i;
const LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;

/**
 * Canonical form of a destination host. IP literals → `ip` (IPv4-mapped IPv6 unwrapped to IPv4, IPv6
 * compressed lower-case); host names → `name` (lower-case, one trailing dot removed); anything else,
 * including numeric IPv4 forms other than a dotted quad and IPv6 zone ids, → `invalid`.
 */
export function canonicalizeHost(host: string): CanonicalHost {
  let h = host;
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  if (h.length === 0) return { kind: 'invalid', why: 'empty host' };
  if (h.includes('%')) return { kind: 'invalid', why: 'IPv6 zone ids are not accepted' };
  if (isIPv6(h)) {
    const parsed = ipaddr.IPv6.parse(h);
    if (parsed.isIPv4MappedAddress())
      return { kind: 'ip', address: parsed.toIPv4Address().toString(), family: 4 };
    return { kind: 'ip', address: parsed.toString(), family: 6 };
  }
  if (DOTTED_QUAD.test(h)) return { kind: 'ip', address: h, family: 4 };
  let name = h.toLowerCase();
  if (name.endsWith('.')) name = name.slice(0, -1);
  if (name.length === 0 || name.length > 253) return { kind: 'invalid', why: 'bad host name length' };
  const labels = name.split('.');
  if (NUMERIC_LABEL.test(labels[labels.length - 1]!)) {
    return { kind: 'invalid', why: 'numeric host that is not a canonical dotted-quad IPv4 address' };
  }
  for (const label of labels) {
    if (!LABEL.test(label)) return { kind: 'invalid', why: 'not a valid host name' };
  }
  return { kind: 'name', name };
}

// ---------------------------------------------------------------------------------------------------
// Rules

export interface HostRules {
  readonly names: ReadonlySet<string>;
  /** Wildcard suffixes stored with their leading dot: `*.example.com` → `.example.com`. */
  readonly suffixes: readonly string[];
  readonly v4: BlockList;
  readonly v6: BlockList;
  readonly cidrCount: number;
}

function badSetting(message: string): TubesError {
  return new TubesError(ErrorCode.BAD_SETTINGS, message);
}

/** A canonical IP literal for a rule (IPv6 compressed; `v4` set when it is IPv4-mapped), or undefined. */
function ruleAddress(text: string): { address: string; family: 4 | 6; v4?: string } | undefined {
  if (DOTTED_QUAD.test(text)) return { address: text, family: 4 };
  if (isIPv6(text) && !text.includes('%')) {
    const parsed = ipaddr.IPv6.parse(text);
    const v4 = parsed.isIPv4MappedAddress() ? parsed.toIPv4Address().toString() : undefined;
    return v4 === undefined
      ? { address: parsed.toString(), family: 6 }
      : { address: parsed.toString(), family: 6, v4 };
  }
  return undefined;
}

/**
 * Parses `allowed_hosts`: comma-separated exact names, `*.suffix` wildcards, IPv4/IPv6 addresses and
 * CIDRs; `0.0.0.0` means every IPv4 address and `::` every IPv6 address. An entry that is none of these
 * (or a numeric IPv4 form other than a dotted quad) throws TubesError BAD_SETTINGS: a list that cannot be
 * read must not silently allow more.
 */
export function parseAllowedHosts(text: string | undefined): HostRules {
  const names = new Set<string>();
  const suffixes: string[] = [];
  const v4 = new BlockList();
  const v6 = new BlockList();
  let cidrCount = 0;
  for (const raw of (text ?? '').split(',')) {
    const entry = raw.trim().toLowerCase();
    if (entry === '') continue;
    const slash = entry.indexOf('/');
    if (slash >= 0) {
      const addr = ruleAddress(entry.slice(0, slash));
      const prefixText = entry.slice(slash + 1);
      const prefix = Number(prefixText);
      if (!addr || !/^[0-9]{1,3}$/.test(prefixText) || prefix > (addr.family === 4 ? 32 : 128)) {
        throw badSetting(`Invalid CIDR in allowed_hosts: ${raw.trim()}`);
      }
      // ::ffff:a.b.c.d/96+ is an IPv4 rule: destinations are compared in their unwrapped IPv4 form
      if (addr.v4 !== undefined && prefix >= 96) v4.addSubnet(addr.v4, prefix - 96, 'ipv4');
      else if (addr.family === 4) v4.addSubnet(addr.address, prefix, 'ipv4');
      else v6.addSubnet(addr.address, prefix, 'ipv6');
      cidrCount++;
      continue;
    }
    const addr = ruleAddress(entry);
    if (addr) {
      // `0.0.0.0` = every IPv4 address, `::` = every IPv6 address (the original's convention)
      if (addr.family === 4 && addr.address === '0.0.0.0') v4.addSubnet('0.0.0.0', 0, 'ipv4');
      else if (addr.family === 6 && addr.address === '::') v6.addSubnet('::', 0, 'ipv6');
      else if (addr.v4 !== undefined) v4.addAddress(addr.v4, 'ipv4');
      else if (addr.family === 4) v4.addAddress(addr.address, 'ipv4');
      else v6.addAddress(addr.address, 'ipv6');
      cidrCount++;
      continue;
    }
    const wildcard = entry.startsWith('*.');
    const canonical = canonicalizeHost(wildcard ? entry.slice(2) : entry);
    if (canonical.kind !== 'name') throw badSetting(`Invalid entry in allowed_hosts: ${raw.trim()}`);
    if (wildcard) suffixes.push(`.${canonical.name}`);
    else names.add(canonical.name);
  }
  return { names, suffixes, v4, v6, cidrCount };
}

/** Inclusive port ranges; an empty list means every port. */
export type PortRules = readonly (readonly [number, number])[];

/**
 * Parses `allowed_ports`: comma-separated ports 1..65535 (also `low-high` ranges). Empty → all ports.
 * Anything else throws TubesError BAD_SETTINGS.
 */
export function parseAllowedPorts(text: string | undefined): PortRules {
  const out: [number, number][] = [];
  for (const raw of (text ?? '').split(',')) {
    const entry = raw.trim();
    if (entry === '') continue;
    const m = /^([0-9]{1,5})(?:\s*-\s*([0-9]{1,5}))?$/.exec(entry);
    const lo = m ? Number(m[1]) : Number.NaN;
    const hi = m?.[2] !== undefined ? Number(m[2]) : lo;
    if (!(lo >= 1 && hi <= 65535 && lo <= hi)) throw badSetting(`Invalid port in allowed_ports: ${entry}`);
    out.push([lo, hi]);
  }
  return out;
}

/** Settings values arrive as JSON: accept a string, a number or an array of them. */
function settingText(key: string, value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  if (Array.isArray(value) && value.every((v) => typeof v === 'string' || typeof v === 'number')) {
    return value.join(',');
  }
  throw badSetting(`${key} must be a comma-separated string`);
}

// ---------------------------------------------------------------------------------------------------
// Checker

const defaultLookup: LookupFn = (hostname) => dnsLookup(hostname, { all: true, order: 'verbatim' });

export class NetworkChecker {
  readonly hosts: HostRules;
  readonly ports: PortRules;
  readonly #lookup: LookupFn;
  readonly #timeoutMs: number;
  readonly #cacheTtlMs: number;
  readonly #cacheMax: number;
  readonly #now: () => number;
  readonly #cache = new Map<string, { expires: number; addresses: readonly LookupAddress[] }>();

  /**
   * The checker for a channel's settings, or undefined when neither `allowed_hosts` nor
   * `allowed_ports` has an entry (the original then has no network checker; see docs/ORIGINAL.md, “Modes and settings”, for how that
   * selects the mode). Throws TubesError BAD_SETTINGS for unreadable lists.
   */
  static fromSettings(
    settings: { readonly allowed_hosts?: unknown; readonly allowed_ports?: unknown },
    options?: NetworkCheckerOptions,
  ): NetworkChecker | undefined {
    const checker = new NetworkChecker(
      settingText('allowed_hosts', settings.allowed_hosts),
      settingText('allowed_ports', settings.allowed_ports),
      options,
    );
    return checker.hasHostRules || checker.hasPortRules ? checker : undefined;
  }

  constructor(allowedHosts?: string, allowedPorts?: string, options: NetworkCheckerOptions = {}) {
    this.hosts = parseAllowedHosts(allowedHosts);
    this.ports = parseAllowedPorts(allowedPorts);
    this.#lookup = options.lookup ?? defaultLookup;
    this.#timeoutMs = options.lookupTimeoutMs ?? 10_000;
    this.#cacheTtlMs = options.cacheTtlMs ?? 30_000;
    this.#cacheMax = Math.max(0, options.cacheMaxEntries ?? 256);
    this.#now = options.now ?? Date.now;
  }

  /** Any host rule at all (name, wildcard, address or CIDR). */
  get hasHostRules(): boolean {
    return this.hosts.names.size > 0 || this.hosts.suffixes.length > 0 || this.hosts.cidrCount > 0;
  }

  get hasPortRules(): boolean {
    return this.ports.length > 0;
  }

  isPortAllowed(port: number): boolean {
    if (!Number.isInteger(port) || port < 1 || port > 65535) return false;
    if (this.ports.length === 0) return true;
    return this.ports.some(([lo, hi]) => port >= lo && port <= hi);
  }

  /** Exact-name or wildcard match of a canonical (lower-case) name. */
  matchesNameRule(name: string): boolean {
    if (this.hosts.names.has(name)) return true;
    return this.hosts.suffixes.some((s) => name.endsWith(s));
  }

  /** Whether a canonical IP address is inside an allowed address/CIDR. */
  isAddressAllowed(address: string, family: 4 | 6): boolean {
    return family === 4 ? this.hosts.v4.check(address, 'ipv4') : this.hosts.v6.check(address, 'ipv6');
  }

  /**
   * The whole gateway decision for a SOCKS5 destination. On success, `address` is the address that
   * passed the check: connect to exactly that address.
   */
  async resolveAllowed(host: string, port: number, opts: { lookup?: LookupFn } = {}): Promise<ResolveResult> {
    if (!this.isPortAllowed(port)) return { ok: false, ...gatewayRefusal.portNotAllowed(port) };
    const denied: ResolveResult = { ok: false, ...gatewayRefusal.destinationNotAllowed(host) };
    const c = canonicalizeHost(host);
    if (c.kind === 'invalid') return denied;
    if (c.kind === 'ip') {
      if (!this.hasHostRules || this.isAddressAllowed(c.address, c.family)) {
        return { ok: true, address: c.address, family: c.family };
      }
      return denied;
    }
    const byName = !this.hasHostRules || this.matchesNameRule(c.name);
    if (!byName && this.hosts.cidrCount === 0) return denied;

    let addresses: { address: string; family: 4 | 6 }[];
    try {
      addresses = await this.#resolve(c.name, opts.lookup);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      return { ok: false, ...gatewayRefusal.resolutionFailed(c.name, e?.code ?? e?.message ?? String(err)) };
    }
    const chosen = byName ? addresses[0] : addresses.find((a) => this.isAddressAllowed(a.address, a.family));
    return chosen ? { ok: true, address: chosen.address, family: chosen.family } : denied;
  }

  /** All usable addresses of a name, canonicalised; throws when there are none. */
  async #resolve(name: string, lookup: LookupFn | undefined): Promise<{ address: string; family: 4 | 6 }[]> {
    const useCache = lookup === undefined && this.#cacheTtlMs > 0 && this.#cacheMax > 0;
    let raw: readonly LookupAddress[] | undefined;
    if (useCache) {
      const hit = this.#cache.get(name);
      if (hit && hit.expires > this.#now()) raw = hit.addresses;
      else if (hit) this.#cache.delete(name);
    }
    if (raw === undefined) {
      raw = await withTimeout((lookup ?? this.#lookup)(name), this.#timeoutMs);
      if (useCache && raw.length > 0) {
        while (this.#cache.size >= this.#cacheMax) this.#cache.delete(this.#cache.keys().next().value!);
        this.#cache.set(name, { expires: this.#now() + this.#cacheTtlMs, addresses: raw });
      }
    }
    const out: { address: string; family: 4 | 6 }[] = [];
    for (const a of raw) {
      const c = canonicalizeHost(String(a?.address ?? ''));
      if (c.kind === 'ip') out.push({ address: c.address, family: c.family });
    }
    if (out.length === 0) throw Object.assign(new Error('no addresses'), { code: 'ENODATA' });
    return out;
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  if (!(ms > 0) || !Number.isFinite(ms)) return promise;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error('timed out'), { code: 'ETIMEOUT' })), ms);
    timer.unref?.();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
