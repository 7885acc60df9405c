/**
 * Parsing of a `mon_host` value: the monitor address list a Ceph client is given, in the forms
 * Ceph accepts (and the mgr module copies into bootstrap tokens from its own config):
 *
 *   [v2:10.0.0.1:3300,v1:10.0.0.1:6789],[v2:10.0.0.2:3300,v1:10.0.0.2:6789]   addrvecs
 *   10.0.0.1:6789 10.0.0.2:6789  /  10.0.0.1,10.0.0.2  /  10.0.0.1;10.0.0.2    plain lists
 *   [::1]:6789  /  [v2:[::1]:3300,v1:[::1]:6789]                              IPv6
 *   mon-a.example.com:6789,mon-b.example.com                                  DNS names
 *
 * Monitors are separated by commas, semicolons or whitespace; a bracketed group is one monitor
 * with several addresses. Each address may carry a `v1:`/`v2:`/`any:` type, an optional port
 * (1-65535) and an optional `/nonce`. Pure: names are checked for syntax, never resolved.
 *
 * This is the only mon_host parser of the operator: CephFSMirror Secrets, MirrorPeer
 * `spec.remote.monHost` and bootstrap tokens all go through it (tokens when decoded, the others
 * in connect.ts before any connection). `monitorTransport` says which messenger protocol Ceph's
 * client will use for each monitor, so a v1-only (unencrypted) monitor can be refused before
 * anything is sent to it.
 */
import { isIPv4, isIPv6 } from 'node:net';

import { CephOpError, ERRNO } from './errors.js';

export type MonAddrType = 'v1' | 'v2' | 'any';

export interface MonAddr {
  /** Messenger protocol, when the address names one. */
  type?: MonAddrType;
  /** IPv4 address, IPv6 address (without brackets) or DNS name. */
  host: string;
  port?: number;
}

/** One monitor: one or more addresses (v2 and v1 of the same monitor). */
export type MonAddrVec = MonAddr[];

/** A mon_host value that cannot be parsed; the message says where, not what it held. */
export class MonHostParseError extends CephOpError {
  override name = 'MonHostParseError';
  constructor(readonly problem: string) {
    super(ERRNO.EINVAL, `mon_host is not a monitor address list: ${problem}`, {
      reason: 'InvalidMonHost',
    });
  }
}

/**
 * Longest mon_host accepted (characters). 64 monitors in the longest bracketed IPv6 form with
 * nonces fit; a value beyond this is not a monitor list someone meant to write.
 */
export const MAX_MON_HOST_LENGTH = 4096;

const SEPARATORS = new Set([',', ';', ' ', '\t', '\n', '\r']);
const TYPED = /^(v1|v2|any):/;
const HOSTNAME =
  /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;

/** Parse a mon_host value into monitors; throws MonHostParseError. */
export function parseMonHost(text: string): MonAddrVec[] {
  if (text.length > MAX_MON_HOST_LENGTH) {
    throw new MonHostParseError(`${text.length} characters long (at most ${MAX_MON_HOST_LENGTH})`);
  }
  const monitors: MonAddrVec[] = [];
  let i = 0;
  while (i < text.length) {
    if (SEPARATORS.has(text[i] as string)) {
      i++;
      continue;
    }
    const entry = monitors.length + 1;
    if (text[i] === '[' && TYPED.test(text.slice(i + 1))) {
      const end = closingBracket(text, i);
      if (end < 0) throw new MonHostParseError(`monitor ${entry}: unbalanced "["`);
      const inner = text.slice(i + 1, end);
      const addrs = splitTopLevel(inner).map((part, j) =>
        parseAddr(part, `monitor ${entry} address ${j + 1}`, true),
      );
      if (addrs.length === 0) throw new MonHostParseError(`monitor ${entry}: empty address group`);
      monitors.push(addrs);
      i = end + 1;
      if (i < text.length && !SEPARATORS.has(text[i] as string)) {
        throw new MonHostParseError(`monitor ${entry}: unexpected text after "]"`);
      }
    } else {
      let end = i;
      let depth = 0;
      while (end < text.length && (depth > 0 || !SEPARATORS.has(text[end] as string))) {
        if (text[end] === '[') depth++;
        else if (text[end] === ']') depth--;
        end++;
      }
      monitors.push([parseAddr(text.slice(i, end), `monitor ${entry}`, false)]);
      i = end;
    }
  }
  if (monitors.length === 0) throw new MonHostParseError('no monitor address');
  return monitors;
}

/** Format monitors back into the canonical bracketed form: `[v2:h:p,v1:h:p],[...]`. */
export function formatMonHost(monitors: MonAddrVec[]): string {
  return monitors
    .map((addrs) => {
      const parts = addrs.map((a) => {
        const host = isIPv6(a.host) ? `[${a.host}]` : a.host;
        return `${a.type === undefined ? '' : `${a.type}:`}${host}${a.port === undefined ? '' : `:${a.port}`}`;
      });
      return addrs.length === 1 && addrs[0]?.type === undefined ? parts[0] : `[${parts.join(',')}]`;
    })
    .join(',');
}

function closingBracket(text: string, open: number): number {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    if (text[i] === '[') depth++;
    else if (text[i] === ']' && --depth === 0) return i;
  }
  return -1;
}

/** Split on commas that are not inside an IPv6 `[...]`. */
function splitTopLevel(inner: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < inner.length; i++) {
    if (inner[i] === '[') depth++;
    else if (inner[i] === ']') depth--;
    else if (inner[i] === ',' && depth === 0) {
      parts.push(inner.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(inner.slice(start));
  return parts;
}

function parseAddr(raw: string, where: string, inGroup: boolean): MonAddr {
  let rest = raw.trim();
  if (rest === '') throw new MonHostParseError(`${where}: empty address`);
  let type: MonAddrType | undefined;
  const typed = TYPED.exec(rest);
  if (typed) {
    type = typed[1] as MonAddrType;
    rest = rest.slice(typed[0].length);
  }
  const nonceAt = rest.lastIndexOf('/');
  if (nonceAt >= 0) {
    if (!/^\d+$/.test(rest.slice(nonceAt + 1)))
      throw new MonHostParseError(`${where}: invalid nonce`);
    rest = rest.slice(0, nonceAt);
  }

  let host: string;
  let portText: string | undefined;
  if (rest.startsWith('[')) {
    const end = rest.indexOf(']');
    if (end < 0) throw new MonHostParseError(`${where}: unbalanced "["`);
    host = rest.slice(1, end);
    if (!isIPv6(host))
      throw new MonHostParseError(`${where}: bracketed host is not an IPv6 address`);
    const after = rest.slice(end + 1);
    if (after !== '') {
      if (!after.startsWith(':'))
        throw new MonHostParseError(`${where}: unexpected text after "]"`);
      portText = after.slice(1);
    }
  } else {
    const colons = rest.split(':').length - 1;
    if (colons > 1) {
      // A bare IPv6 address cannot carry a port; Ceph wants it in brackets for that.
      if (!isIPv6(rest)) throw new MonHostParseError(`${where}: not an address`);
      host = rest;
    } else {
      const colon = rest.indexOf(':');
      host = colon < 0 ? rest : rest.slice(0, colon);
      portText = colon < 0 ? undefined : rest.slice(colon + 1);
      const ipLike = /^[\d.]+$/.test(host);
      if (ipLike ? !isIPv4(host) : !HOSTNAME.test(host)) {
        throw new MonHostParseError(
          `${where}: ${ipLike ? 'invalid IPv4 address' : 'invalid host name'}`,
        );
      }
      // Ceph parses typed and bracketed entries as addresses, which are IPs; names only resolve
      // in a plain list.
      if (!ipLike && (type !== undefined || inGroup)) {
        throw new MonHostParseError(`${where}: a typed address needs an IP, not a host name`);
      }
    }
  }

  const addr: MonAddr = { host };
  if (type !== undefined) addr.type = type;
  if (portText !== undefined) {
    const port = /^\d{1,5}$/.test(portText) ? Number(portText) : NaN;
    if (!(port >= 1 && port <= 65535)) throw new MonHostParseError(`${where}: invalid port`);
    addr.port = port;
  }
  return addr;
}

// ---- Which protocol Ceph's client speaks to a monitor -------------------------------------------

/**
 * The messenger protocol a Ceph client (librados 16.2) uses for one monitor of a mon_host:
 * - `v2`: msgr2 only, where `ms_mon_client_mode = secure` gives an encrypted connection;
 * - `v1`: the legacy protocol only, never encrypted (cephx authenticates, nobody hides the bytes);
 * - `v1-possible`: Ceph may try v1 (an untyped address on a port other than 3300, an `any:`
 *   address, or no port at all: MonMap::_add_ambiguous_addr adds a v1 candidate then).
 *
 * For a group `[a,b,...]` the client dials the first v1 or v2 address and nothing else of the
 * group (AsyncMessenger::create_connect), so `[v2:...,v1:...]` is v2 and `[v1:...,v2:...]` is v1.
 * A single untyped address is v2 on port 3300 and v1 on port 6789 (Ceph infers the protocol
 * from the IANA and legacy ports).
 */
export type MonTransport = 'v2' | 'v1' | 'v1-possible';

export const MSGR2_PORT = 3300;
export const MSGR1_PORT = 6789;

export function monitorTransport(addrs: MonAddrVec): MonTransport {
  if (addrs.length > 1) {
    const dialled = addrs.find((a) => a.type === 'v1' || a.type === 'v2');
    // A group with no typed v1/v2 address is not dialable at all; count it as not secure.
    return dialled?.type === 'v2' ? 'v2' : dialled?.type === 'v1' ? 'v1' : 'v1-possible';
  }
  const [a] = addrs;
  if (a === undefined) return 'v1-possible';
  if (a.type === 'v2') return 'v2';
  if (a.type === 'v1') return 'v1';
  if (a.type === undefined && a.port === MSGR2_PORT) return 'v2';
  if (a.type === undefined && a.port === MSGR1_PORT) return 'v1';
  return 'v1-possible';
}

/** A mon_host that would let the client talk to a monitor over the unencrypted v1 protocol. */
export class InsecureMonHostError extends CephOpError {
  override name = 'InsecureMonHostError';
  constructor(
    /** 1-based index of the first offending monitor. */
    readonly monitor: number,
    readonly transport: Exclude<MonTransport, 'v2'>,
  ) {
    const why =
      transport === 'v1'
        ? 'is reachable only over the unencrypted v1 protocol'
        : 'may be reached over the unencrypted v1 protocol (no v2 address first, or no port 3300)';
    super(
      ERRNO.EINVAL,
      `mon_host monitor ${monitor} ${why}; give each monitor's v2 address first ` +
        `(e.g. [v2:<ip>:3300,v1:<ip>:6789]) or allow v1 explicitly with allowInsecureV1`,
      { reason: 'InsecureMonHost' },
    );
  }
}

/**
 * Parse a mon_host and, unless `allowInsecureV1`, require every monitor to be reached over v2
 * (see monitorTransport). Throws MonHostParseError or InsecureMonHostError (both EINVAL, reasons
 * InvalidMonHost / InsecureMonHost); neither message quotes the value.
 */
export function parseSecureMonHost(text: string, allowInsecureV1: boolean): MonAddrVec[] {
  const monitors = parseMonHost(text);
  if (!allowInsecureV1) {
    monitors.forEach((addrs, i) => {
      const transport = monitorTransport(addrs);
      if (transport !== 'v2') throw new InsecureMonHostError(i + 1, transport);
    });
  }
  return monitors;
}
