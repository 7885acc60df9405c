import type { ActionType, DirectoryStateName, PolicyAction } from './types.js';

/**
 * One row of the transition table: the action to perform next, the policy bookkeeping to run
 * before it starts and after it finishes, and the state reached when the row ends a sequence.
 */
export interface Transition {
  readonly actionType: ActionType;
  readonly startPolicyAction?: PolicyAction;
  readonly finishPolicyAction?: PolicyAction;
  readonly finalState?: DirectoryStateName;
}

/** The idle transition a directory holds between sequences. */
export const IDLE_TRANSITION: Transition = Object.freeze({ actionType: 'NONE' });

function row(transition: Transition): Transition {
  return Object.freeze(transition);
}

/**
 * The transition table, keyed by state and then by the action that just completed (NONE when
 * a sequence begins). Same rows as the mgr module's `state_transition.py`, kept as data so tests
 * can walk every row. Idle states (UNASSOCIATED, ASSOCIATED) have no rows: nothing happens in them.
 */
export const TRANSITION_TABLE: Readonly<
  Record<DirectoryStateName, Readonly<Partial<Record<ActionType, Transition>>>>
> = Object.freeze({
  UNASSOCIATED: {},
  ASSOCIATED: {},
  INITIALIZING: {
    NONE: row({ actionType: 'ACQUIRE' }),
    ACQUIRE: row({ actionType: 'NONE', finalState: 'ASSOCIATED' }),
  },
  ASSOCIATING: {
    NONE: row({ actionType: 'MAP_UPDATE', startPolicyAction: 'MAP' }),
    MAP_UPDATE: row({ actionType: 'ACQUIRE' }),
    ACQUIRE: row({ actionType: 'NONE', finalState: 'ASSOCIATED' }),
  },
  DISASSOCIATING: {
    NONE: row({ actionType: 'RELEASE', finishPolicyAction: 'UNMAP' }),
    RELEASE: row({ actionType: 'MAP_REMOVE', finishPolicyAction: 'REMOVE' }),
    MAP_REMOVE: row({ actionType: 'NONE', finalState: 'UNASSOCIATED' }),
  },
  SHUFFLING: {
    NONE: row({ actionType: 'RELEASE', finishPolicyAction: 'UNMAP' }),
    RELEASE: row({ actionType: 'MAP_UPDATE', startPolicyAction: 'MAP' }),
    MAP_UPDATE: row({ actionType: 'ACQUIRE' }),
    ACQUIRE: row({ actionType: 'NONE', finalState: 'ASSOCIATED' }),
  },
});

/** Thrown when the engine asks for a row that does not exist: a bug, never a runtime condition. */
export class TransitionError extends Error {
  constructor(
    readonly state: DirectoryStateName,
    readonly completed: ActionType,
  ) {
    super(`no transition from state ${state} after action ${completed}`);
    this.name = 'TransitionError';
  }
}

/** The row for `state` after `completed` finished. */
export function transit(state: DirectoryStateName, completed: ActionType): Transition {
  const next = TRANSITION_TABLE[state][completed];
  if (!next) throw new TransitionError(state, completed);
  return next;
}

/** A directory in an idle state can take a new state at once; otherwise it is queued. */
export function isIdle(state: DirectoryStateName): boolean {
  return state === 'UNASSOCIATED' || state === 'ASSOCIATED';
}

/** Acquire and release are addressed to a daemon; the other actions are dir-map writes. */
export function isInstanceAction(action: ActionType): boolean {
  return action === 'ACQUIRE' || action === 'RELEASE';
}
