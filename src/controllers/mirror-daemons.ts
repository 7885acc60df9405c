// The desired Kubernetes objects for the cephfs-mirror daemons of a CephFSMirror (spec.daemons):
// pure, so every name, label, mount and argument is unit-tested (test/unit/mirror-daemons.test.ts).
//
// One Deployment per daemon (replicas 1, strategy Recreate), because each daemon needs an
// identity of its own and two processes with one identity must never run: Recreate stops the old
// pod before a new one starts. One Secret per mirror holds `ceph.conf` and each daemon's keyring;
// each pod mounts only `ceph.conf` and its own keyring (volume items), read-only. Paths reach the
// daemon through its arguments and environment, never through the files' contents, and no key is
// ever in an argument or an environment value.
import { createHash } from 'node:crypto';
import type { V1Deployment, V1OwnerReference, V1Secret } from '@kubernetes/client-node';
import { SECURE_CLIENT_CONF } from '../ceph/connect.js';
import { DAEMON_ENTITY_PREFIX } from '../ceph/mirror-daemon-users.js';
import type { MirrorDaemonsSpec } from '../api/resources.js';

export const MAX_DAEMONS = 16;
export const DEFAULT_DAEMON_IMAGE = 'quay.io/ceph/ceph:v16.2.15';
/** Where the pod sees the Secret's files, and the admin socket's directory (an emptyDir). */
export const CONFIG_DIR = '/etc/cephfs-mirror';
export const RUN_DIR = '/var/run/ceph';
/** The uid/gid of the `ceph` user in the Ceph container images. */
export const CEPH_UID = 167;

export const LABEL_NAME = 'app.kubernetes.io/name';
export const LABEL_MANAGED_BY = 'app.kubernetes.io/managed-by';
export const LABEL_MIRROR_UID = 'mirror.cephfs.io/mirror-uid';
export const LABEL_DAEMON_ID = 'mirror.cephfs.io/daemon-id';
export const LABEL_DAEMON_INDEX = 'mirror.cephfs.io/daemon-index';
export const ANNOTATION_SPEC_HASH = 'mirror.cephfs.io/spec-hash';
export const ANNOTATION_KEYRING_HASH = 'mirror.cephfs.io/keyring-hash';
export const MANAGED_BY = 'cephfs-mirror-operator';

export interface MirrorRef {
  apiVersion: string;
  kind: string;
  name: string;
  namespace: string;
  uid: string;
}

export interface DaemonIdentity {
  index: number;
  /** The cephx id (`--id`), e.g. `cephfs-mirror.1a2b3c4d5e6f.0`. */
  clientId: string;
  /** `client.<clientId>`. */
  entity: string;
  deployment: string;
  /** The key of its keyring in the daemons' Secret. */
  keyringKey: string;
}

/** The first 12 hex digits of the mirror's uid: stable for the object, distinct between objects. */
export function uidTag(uid: string): string {
  const hex = uid.toLowerCase().replace(/[^0-9a-f]/g, '');
  if (hex.length < 12) throw new Error(`mirror uid ${uid} is too short`);
  return hex.slice(0, 12);
}

/**
 * A DNS-label-safe prefix from the mirror's name, at most 40 characters: long names are cut and
 * get a hash of the whole name, so two long names sharing a prefix still differ.
 */
export function namePrefix(mirrorName: string): string {
  if (mirrorName.length <= 40) return mirrorName;
  const hash = createHash('sha256').update(mirrorName).digest('hex').slice(0, 6);
  return `${mirrorName.slice(0, 33).replace(/[-.]+$/, '')}-${hash}`;
}

export function daemonIdentity(mirror: MirrorRef, index: number): DaemonIdentity {
  const clientId = `${DAEMON_ENTITY_PREFIX.slice('client.'.length)}${uidTag(mirror.uid)}.${index}`;
  return {
    index,
    clientId,
    entity: `client.${clientId}`,
    deployment: `${namePrefix(mirror.name).replace(/\./g, '-')}-cephfs-mirror-${index}`,
    keyringKey: `client.${clientId}.keyring`,
  };
}

/** Every identity a mirror can ever have (index 0 .. MAX_DAEMONS-1), for clean-up. */
export function allIdentities(mirror: MirrorRef): DaemonIdentity[] {
  return Array.from({ length: MAX_DAEMONS }, (_, i) => daemonIdentity(mirror, i));
}

export function desiredIdentities(mirror: MirrorRef, count: number): DaemonIdentity[] {
  const n = Math.max(0, Math.min(MAX_DAEMONS, Math.floor(count)));
  return allIdentities(mirror).slice(0, n);
}

/**
 * The daemons' Secret: named after the mirror's uid too, so a mirror deleted and created again
 * under the same name never meets the old one's Secret (which Kubernetes' garbage collector
 * removes after the old mirror, through its ownerReference).
 */
export function secretName(mirror: MirrorRef): string {
  return `${namePrefix(mirror.name).replace(/\./g, '-')}-cephfs-mirror-keys-${uidTag(mirror.uid)}`;
}

/** Labels on every object made for the mirror (the operator lists its Deployments by them). */
export function mirrorLabels(mirror: MirrorRef): Record<string, string> {
  return {
    [LABEL_NAME]: 'cephfs-mirror',
    [LABEL_MANAGED_BY]: MANAGED_BY,
    [LABEL_MIRROR_UID]: mirror.uid,
  };
}

export function ownerReference(mirror: MirrorRef): V1OwnerReference {
  return {
    apiVersion: mirror.apiVersion,
    kind: mirror.kind,
    name: mirror.name,
    uid: mirror.uid,
    controller: true,
    blockOwnerDeletion: true,
  };
}

/**
 * The daemons' ceph.conf: the monitors and the operator's own transport settings (cephx only,
 * msgr2 secure mode, signed messages: ceph/connect.ts), which the daemon's connections to the
 * peers' clusters also take (cephfs-mirror's connect() reads this file for every cluster it
 * connects to, src/tools/cephfs_mirror/Utils.cc). No fsid (it would be wrong for those remote
 * connections) and no path (paths are in the arguments). Logs go to stderr, as a container's do.
 */
export function daemonCephConf(monHost: string): string {
  const lines = [
    '[global]',
    `mon_host = ${monHost}`,
    ...Object.entries(SECURE_CLIENT_CONF).map(([k, v]) => `${k} = ${v}`),
    'log_to_file = false',
    'log_to_stderr = true',
    'err_to_stderr = true',
  ];
  return `${lines.join('\n')}\n`;
}

export function keyringText(entity: string, key: string): string {
  return `[${entity}]\n\tkey = ${key}\n`;
}

/** The daemons' Secret, `stringData`-free (data is base64) so it compares with what is read. */
export function daemonSecret(
  mirror: MirrorRef,
  monHost: string,
  keys: ReadonlyMap<string, string>,
  identities: readonly DaemonIdentity[],
): V1Secret {
  const data: Record<string, string> = {
    'ceph.conf': Buffer.from(daemonCephConf(monHost)).toString('base64'),
  };
  for (const d of identities) {
    const key = keys.get(d.entity);
    if (key !== undefined)
      data[d.keyringKey] = Buffer.from(keyringText(d.entity, key)).toString('base64');
  }
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: secretName(mirror),
      namespace: mirror.namespace,
      labels: mirrorLabels(mirror),
      ownerReferences: [ownerReference(mirror)],
    },
    type: 'Opaque',
    data,
  };
}

/** The container's command line and environment (paths only; the test runs exactly these). */
export function daemonCommand(d: DaemonIdentity): {
  command: string[];
  args: string[];
  env: Array<{ name: string; value: string }>;
} {
  const conf = `${CONFIG_DIR}/ceph.conf`;
  const keyring = `${CONFIG_DIR}/keyring`;
  return {
    command: ['cephfs-mirror'],
    args: [
      '--id',
      d.clientId,
      '--cluster',
      'ceph',
      '-f',
      '-c',
      conf,
      '--keyring',
      keyring,
      '--run-dir',
      RUN_DIR,
    ],
    // The daemon's per-filesystem connections build a fresh configuration from the environment
    // and the default conf search path (Utils.cc connect()), not from the arguments above.
    env: [
      { name: 'CEPH_CONF', value: conf },
      { name: 'CEPH_KEYRING', value: keyring },
    ],
  };
}

function hashOf(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 16);
}

export function daemonDeployment(
  mirror: MirrorRef,
  spec: MirrorDaemonsSpec,
  d: DaemonIdentity,
  keyring: string,
): V1Deployment {
  const labels = {
    ...mirrorLabels(mirror),
    [LABEL_DAEMON_ID]: d.clientId,
    [LABEL_DAEMON_INDEX]: String(d.index),
  };
  const { command, args, env } = daemonCommand(d);
  const podSpec = {
    automountServiceAccountToken: false,
    enableServiceLinks: false,
    securityContext: {
      runAsNonRoot: true,
      runAsUser: CEPH_UID,
      runAsGroup: CEPH_UID,
      fsGroup: CEPH_UID,
      seccompProfile: { type: 'RuntimeDefault' },
    },
    ...(spec.nodeSelector ? { nodeSelector: spec.nodeSelector } : {}),
    ...(spec.affinity ? { affinity: spec.affinity } : {}),
    ...(spec.tolerations ? { tolerations: spec.tolerations } : {}),
    ...(spec.priorityClassName ? { priorityClassName: spec.priorityClassName } : {}),
    containers: [
      {
        name: 'cephfs-mirror',
        image: spec.image ?? DEFAULT_DAEMON_IMAGE,
        ...(spec.imagePullPolicy ? { imagePullPolicy: spec.imagePullPolicy } : {}),
        command,
        args,
        env,
        ...(spec.resources ? { resources: spec.resources } : {}),
        securityContext: {
          runAsNonRoot: true,
          privileged: false,
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          capabilities: { drop: ['ALL'] },
        },
        volumeMounts: [
          { name: 'config', mountPath: CONFIG_DIR, readOnly: true },
          { name: 'run', mountPath: RUN_DIR },
        ],
      },
    ],
    volumes: [
      {
        name: 'config',
        secret: {
          secretName: secretName(mirror),
          defaultMode: 0o440,
          items: [
            { key: 'ceph.conf', path: 'ceph.conf' },
            { key: d.keyringKey, path: 'keyring' },
          ],
        },
      },
      { name: 'run', emptyDir: {} },
    ],
  };
  const deploymentSpec = {
    replicas: 1,
    // Never two pods with one cephx identity: the old pod is gone before the new one starts.
    strategy: { type: 'Recreate' },
    selector: {
      matchLabels: { [LABEL_MIRROR_UID]: mirror.uid, [LABEL_DAEMON_ID]: d.clientId },
    },
    template: {
      metadata: {
        labels,
        // A new key (the user was recreated) restarts the pod: the daemon reads it only at start.
        annotations: { [ANNOTATION_KEYRING_HASH]: hashOf(keyring) },
      },
      spec: podSpec,
    },
  };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name: d.deployment,
      namespace: mirror.namespace,
      labels,
      annotations: { [ANNOTATION_SPEC_HASH]: hashOf(deploymentSpec) },
      ownerReferences: [ownerReference(mirror)],
    },
    spec: deploymentSpec as V1Deployment['spec'],
  };
}

/** Whether a Deployment read from the API is this mirror's own (not a same-named stranger's). */
export function ownedBy(obj: { metadata?: { ownerReferences?: V1OwnerReference[] } }, uid: string) {
  return (obj.metadata?.ownerReferences ?? []).some((r) => r.uid === uid && r.controller === true);
}

/** The index of one of the mirror's Deployments (from its label), or undefined. */
export function daemonIndexOf(obj: {
  metadata?: { labels?: Record<string, string> };
}): number | undefined {
  const raw = obj.metadata?.labels?.[LABEL_DAEMON_INDEX];
  if (raw === undefined || !/^[0-9]+$/.test(raw)) return undefined;
  return Number(raw);
}
