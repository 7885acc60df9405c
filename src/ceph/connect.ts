/**
 * How the operator connects to a Ceph cluster: every RADOS connection it opens (the mirrored
 * cluster, and each peer's remote cluster) goes through connectSecure, so the security settings
 * live in one place and no caller can weaken them by accident.
 *
 * - cephx only: librados' default `auth_client_required` is `cephx, none`, which lets a server
 *   (or anyone on the path pretending to be one) choose no authentication.
 * - msgr2 secure mode (on-wire encryption) to the monitors and to every other daemon: the
 *   defaults (`secure crc` to mons, `crc secure` to OSDs/MDSs/mgrs) allow crc mode, in which
 *   config-key values (peer keys) and everything else cross the network in clear.
 * - signed messages required on any v1 connection that is still made (allowInsecureV1).
 * - the mon_host is parsed (mon-host.ts) and, unless the resource explicitly allows v1, each
 *   monitor must be reached over v2: msgr1 has no encryption at all, and the mode settings
 *   above do not apply to it. Checked before anything is sent.
 *
 * Option names and values are Ceph Pacific's (`ceph-conf -D` on 16.2.15; see
 * doc/rados/configuration/msgr2.rst "Connection modes").
 */
import { Rados, type CommonConnectOptions, type ConfFileConnectOptions } from 'rados-js';
import { parseSecureMonHost } from './mon-host.js';

/** Settings applied to every connection, after the caller's: they cannot be overridden. */
export const SECURE_CLIENT_CONF: Readonly<Record<string, string>> = Object.freeze({
  auth_client_required: 'cephx',
  ms_mon_client_mode: 'secure',
  ms_client_mode: 'secure',
  cephx_require_signatures: 'true',
  cephx_sign_messages: 'true',
});

export interface SecurityOptions {
  /**
   * Accept monitors reached only over the legacy v1 protocol (no encryption). Comes from the
   * resource (`spec.cluster.allowInsecureV1`, `spec.remote.allowInsecureV1`), default false.
   */
  allowInsecureV1?: boolean;
}

export interface SecureMonHostConnectOptions extends CommonConnectOptions, SecurityOptions {
  monHost: string;
  /** Client id, with or without the `client.` prefix. */
  clientId: string;
  key: string;
}

export type SecureConnectOptions =
  SecureMonHostConnectOptions | (ConfFileConnectOptions & CommonConnectOptions & SecurityOptions);

/**
 * The options to hand to Rados.connect: the caller's, with SECURE_CLIENT_CONF on top. Throws
 * MonHostParseError (InvalidMonHost) or InsecureMonHostError (InsecureMonHost) for an explicit
 * mon_host that is malformed or would be reached over v1; nothing has been sent then.
 */
export function secureConnectOptions(
  opts: SecureConnectOptions,
): Parameters<typeof Rados.connect>[0] {
  const { allowInsecureV1, ...rest } = opts;
  if ('monHost' in rest) parseSecureMonHost(rest.monHost, allowInsecureV1 === true);
  return { ...rest, conf: { ...rest.conf, ...SECURE_CLIENT_CONF } };
}

/**
 * Connects with secureConnectOptions. For a connection made from a ceph.conf (whose mon_host is
 * only known once librados has read it), the mon_host in effect is checked right after
 * connecting and the connection is closed again if it is not acceptable.
 */
export async function connectSecure(opts: SecureConnectOptions): Promise<Rados> {
  const rados = await Rados.connect(secureConnectOptions(opts));
  if (!('monHost' in opts)) {
    try {
      const monHost = await rados.confGet('mon_host');
      if (monHost.trim() !== '') parseSecureMonHost(monHost, opts.allowInsecureV1 === true);
    } catch (e) {
      await rados.shutdown().catch(() => undefined);
      throw e;
    }
  }
  return rados;
}
