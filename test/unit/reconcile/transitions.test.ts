import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  TRANSITION_TABLE,
  TransitionError,
  isIdle,
  isInstanceAction,
  transit,
  type ActionType,
  type DirectoryStateName,
} from '../../../src/reconcile/index.js';

const STATES: DirectoryStateName[] = [
  'UNASSOCIATED',
  'INITIALIZING',
  'ASSOCIATING',
  'ASSOCIATED',
  'SHUFFLING',
  'DISASSOCIATING',
];
const ACTIONS: ActionType[] = ['NONE', 'MAP_UPDATE', 'MAP_REMOVE', 'ACQUIRE', 'RELEASE'];

// The table of protocol section 4, row by row: state, after, next, start, finish, final.
const EXPECTED: Array<[DirectoryStateName, ActionType, ActionType, string, string, string]> = [
  ['INITIALIZING', 'NONE', 'ACQUIRE', '', '', ''],
  ['INITIALIZING', 'ACQUIRE', 'NONE', '', '', 'ASSOCIATED'],
  ['ASSOCIATING', 'NONE', 'MAP_UPDATE', 'MAP', '', ''],
  ['ASSOCIATING', 'MAP_UPDATE', 'ACQUIRE', '', '', ''],
  ['ASSOCIATING', 'ACQUIRE', 'NONE', '', '', 'ASSOCIATED'],
  ['DISASSOCIATING', 'NONE', 'RELEASE', '', 'UNMAP', ''],
  ['DISASSOCIATING', 'RELEASE', 'MAP_REMOVE', '', 'REMOVE', ''],
  ['DISASSOCIATING', 'MAP_REMOVE', 'NONE', '', '', 'UNASSOCIATED'],
  ['SHUFFLING', 'NONE', 'RELEASE', '', 'UNMAP', ''],
  ['SHUFFLING', 'RELEASE', 'MAP_UPDATE', 'MAP', '', ''],
  ['SHUFFLING', 'MAP_UPDATE', 'ACQUIRE', '', '', ''],
  ['SHUFFLING', 'ACQUIRE', 'NONE', '', '', 'ASSOCIATED'],
];

describe('transition table', () => {
  it('has exactly the rows of the protocol, with their policy actions', () => {
    let rows = 0;
    for (const state of STATES) {
      for (const after of ACTIONS) {
        const row = TRANSITION_TABLE[state][after];
        const expected = EXPECTED.find(([s, a]) => s === state && a === after);
        if (!expected) {
          assert.equal(row, undefined, `unexpected row ${state}/${after}`);
          assert.throws(() => transit(state, after), TransitionError);
          continue;
        }
        rows++;
        const [, , next, start, finish, final] = expected;
        assert.deepEqual(transit(state, after), row);
        assert.equal(row?.actionType, next, `${state}/${after} next`);
        assert.equal(row?.startPolicyAction ?? '', start, `${state}/${after} start`);
        assert.equal(row?.finishPolicyAction ?? '', finish, `${state}/${after} finish`);
        assert.equal(row?.finalState ?? '', final, `${state}/${after} final`);
      }
    }
    assert.equal(rows, EXPECTED.length);
  });

  it('walks each busy state from NONE to its final state through every row once', () => {
    const walks: Record<string, ActionType[]> = {};
    for (const state of STATES.filter((s) => !isIdle(s))) {
      const seen: ActionType[] = [];
      let action: ActionType = 'NONE';
      for (let i = 0; i < 10; i++) {
        const row = transit(state, action);
        if (row.finalState) {
          walks[state] = seen;
          break;
        }
        seen.push(row.actionType);
        action = row.actionType;
      }
    }
    assert.deepEqual(walks, {
      INITIALIZING: ['ACQUIRE'],
      ASSOCIATING: ['MAP_UPDATE', 'ACQUIRE'],
      DISASSOCIATING: ['RELEASE', 'MAP_REMOVE'],
      SHUFFLING: ['RELEASE', 'MAP_UPDATE', 'ACQUIRE'],
    });
  });

  it('classifies idle states and instance actions', () => {
    assert.deepEqual(
      STATES.filter((s) => isIdle(s)),
      ['UNASSOCIATED', 'ASSOCIATED'],
    );
    assert.deepEqual(
      ACTIONS.filter((a) => isInstanceAction(a)),
      ['ACQUIRE', 'RELEASE'],
    );
  });
});
