// Which filesystem a CephFSMirror names (from its connection Secret and spec) and whether it owns
// it: resolved through FilesystemIdentities, decided by ownership.ts (the oldest CephFSMirror
// naming a filesystem drives it; the others are refused and change nothing in Ceph).
import { secretValue } from '../kube/kube-api.js';
import { objectKey, type CephFSMirror } from '../api/resources.js';
import type { ControllerContext } from './context.js';
import type { FilesystemIdentities, IdentityInput } from './filesystem-identities.js';
import type { ConnectionSettings, RuntimeClaim } from './mirror-runtimes.js';
import {
  decideOwnership,
  describeIdentity,
  olderFirst,
  type Claimant,
  type FilesystemIdentity,
  type OwnershipDecision,
  type Resolution,
} from './ownership.js';
import type { Problem } from './status-helpers.js';

export const OWNED_BY_OTHER = 'FilesystemOwnedByOther';
/** An older claimant is being resolved by another reconcile: look again shortly. */
export const CLAIM_WAIT_MS = 2_000;
/** Resolution failures that no retry will fix without a change (of the spec, or in Ceph). */
export const SETTLED_FAILURES: ReadonlySet<string> = new Set([
  'FilesystemNotFound',
  'FsidMismatch',
]);

export interface Ownership {
  own: Resolution;
  decision: OwnershipDecision;
  claimants: Claimant[];
}

export class MirrorOwnership {
  constructor(
    private readonly ctx: ControllerContext,
    private readonly identities: FilesystemIdentities,
  ) {}

  /** What the mirror's spec gives to find its filesystem: settings, or why there are none. */
  identityInput(mirror: CephFSMirror): IdentityInput {
    const settings = this.connectionSettings(mirror);
    if ('reason' in settings) return settings;
    return { settings, fsName: mirror.spec.filesystem };
  }

  private claimant(mirror: CephFSMirror, resolution: Resolution): Claimant {
    return {
      key: objectKey(mirror.metadata),
      ...(mirror.metadata.creationTimestamp
        ? { creationTimestamp: String(mirror.metadata.creationTimestamp) }
        : {}),
      ...(mirror.metadata.uid ? { uid: mirror.metadata.uid } : {}),
      resolution,
    };
  }

  /**
   * Resolves this mirror (retrying a failure: this is its own reconcile) and every older one
   * whose identity is not known yet (a failure stays a failure: it claims nothing), then decides.
   * Younger claimants are taken as they are known: they cannot take the filesystem from this one.
   */
  async ownership(key: string, mirror: CephFSMirror, input: IdentityInput): Promise<Ownership> {
    const own = await this.identities.resolve(key, input, true);
    const me = this.claimant(mirror, own);
    const claimants = await Promise.all(
      this.ctx.mirrors.list().map(async (m): Promise<Claimant> => {
        const mKey = objectKey(m.metadata);
        if (mKey === key) return me;
        const mInput = this.identityInput(m);
        const known = this.claimant(m, this.known(mKey, mInput));
        if (known.resolution.state !== 'unknown' || olderFirst(known, me) > 0) return known;
        return this.claimant(m, await this.identities.resolve(mKey, mInput));
      }),
    );
    if (!claimants.includes(me)) claimants.push(me);
    return { own, decision: decideOwnership(key, claimants), claimants };
  }

  /**
   * What is known of another mirror's identity: the filesystem its engine drives, when it runs
   * one here (its Secret may be gone since: it still holds the filesystem), else its resolution.
   */
  private known(key: string, input: IdentityInput): Resolution {
    const running = this.ctx.runtimes.get(key);
    if (running) return { state: 'resolved', identity: running.identity };
    return this.identities.peek(key, input);
  }

  /** The same decision from what is known now, without Ceph round trips (under the start lock). */
  claim(key: string, identity: FilesystemIdentity): RuntimeClaim {
    return {
      identity,
      check: () => {
        const claimants = this.ctx.mirrors
          .list()
          .map((m) => this.claimant(m, this.known(objectKey(m.metadata), this.identityInput(m))));
        const decision = decideOwnership(key, claimants);
        if (decision.kind === 'owner') return undefined;
        if (decision.kind === 'refused') return ownedByOther(identity, decision.owner);
        if (decision.kind === 'wait') return waitingProblem(decision.for);
        return {
          reason: 'OwnershipUndecided',
          message: 'the CephFSMirror changed while its filesystem was being identified',
        };
      },
    };
  }

  private connectionSettings(mirror: CephFSMirror): ConnectionSettings | Problem {
    const ref = mirror.spec.cluster.secretRef.name;
    const secret = this.ctx.secrets.get(mirror.metadata.namespace, ref);
    if (!secret) {
      return { reason: 'SecretNotFound', message: `Secret ${ref} does not exist` };
    }
    const monHost = secretValue(secret, 'mon_host');
    const key = secretValue(secret, 'key');
    const missing = [!monHost && 'mon_host', !key && 'key'].filter(Boolean);
    if (!monHost || !key) {
      return { reason: 'SecretInvalid', message: `Secret ${ref} lacks ${missing.join(' and ')}` };
    }
    // No default user: a key without its user would be tried as client.admin's, and the
    // operator should never be handed an admin key by accident (docs/security.md).
    const clientId = secretValue(secret, 'client_id')?.replace(/^client\./, '');
    if (!clientId) {
      return {
        reason: 'SecretInvalid',
        message:
          `Secret ${ref} lacks client_id (the Ceph user the key belongs to, ` +
          'e.g. cephfs-mirror-operator; there is no default)',
      };
    }
    return {
      monHost,
      key,
      clientId,
      ...(mirror.spec.cluster.fsid ? { fsid: mirror.spec.cluster.fsid } : {}),
      ...(mirror.spec.cluster.allowInsecureV1 === true ? { allowInsecureV1: true } : {}),
    };
  }
}

export function ownedByOther(identity: FilesystemIdentity, owner: string): Problem {
  return {
    reason: OWNED_BY_OTHER,
    message:
      `${describeIdentity(identity)} is driven by CephFSMirror ${owner}, the oldest ` +
      'CephFSMirror naming it: this one changes nothing in Ceph while that one exists',
  };
}

export function waitingProblem(older: readonly string[]): Problem {
  return {
    reason: 'WaitingForOlderClaimant',
    message: `waiting until the filesystem of older CephFSMirror(s) ${older.join(', ')} is known`,
  };
}
