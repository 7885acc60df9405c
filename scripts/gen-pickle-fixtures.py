#!/usr/bin/env python3
"""Generate golden pickle vectors for the TypeScript pickle codec.

The Ceph mgr `mirroring` module stores its omap values as `pickle.dumps(dict)`.
This script asks the real Python pickler (the one the mgr module runs on) what
those bytes are, so the unit tests compare the TypeScript encoder and decoder
against CPython itself rather than against our reading of the format.

Output: test/fixtures/pickle/vectors.json (committed). Regenerate with
    python3 scripts/gen-pickle-fixtures.py
and review the diff: a change means CPython's output changed.

Each accepted vector has:
  name      short identifier
  repr      Python repr of the value
  protocol  the pickle protocol used (None = the default, what the mgr uses)
  hex       pickle.dumps(value, protocol) as lowercase hex
  value     the value as tagged JSON: dicts are {"$dict": [[key, value], ...]}
            (keeps insertion order), floats are {"$float": repr(x)}, ints are
            JSON numbers when exactly representable in a double, else
            {"$int": str(x)}; str, bool and None map to JSON directly
  encode    true when the TypeScript encoder must reproduce `hex` exactly
            (default protocol, no object identity tricks)

Each rejected vector has name, repr, hex and `reason`: the decoder must refuse it.
"""

import datetime
import json
import os
import pickle
import sys

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'pickle', 'vectors.json')

MAX_SAFE_INT = 2**53 - 1


def tag(value):
    # bool is a subclass of int: test it first
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return value if abs(value) <= MAX_SAFE_INT else {'$int': str(value)}
    if isinstance(value, float):
        return {'$float': repr(value)}
    if isinstance(value, dict):
        return {'$dict': [[tag(k), tag(v)] for k, v in value.items()]}
    raise TypeError(f'cannot tag {type(value).__name__}')


def dir_value(instance_id, last_shuffled, purging=False):
    # Same shape and key order as the mgr module's dir_map values.
    d = {'version': 1, 'instance_id': instance_id, 'last_shuffled': last_shuffled}
    if purging:
        d['purging'] = 1
    return d


def instance_value(addr):
    return {'version': 1, 'addr': addr}


def fresh(s):
    # A new str object with the same text, so pickle cannot memoize it against
    # an interned constant of the same text (CPython memoizes by identity).
    return ''.join(list(s))


LONG_ID = fresh('i' * 300)  # > 255 UTF-8 bytes: BINUNICODE instead of SHORT_BINUNICODE
NON_ASCII = fresh('répertoire/データ/😀')
LONG_NON_ASCII = fresh('é' * 200)  # 200 chars, 400 UTF-8 bytes

def memo_shared():
    # CPython memoizes strings by identity: the same str object used twice is
    # written once and referenced with BINGET the second time.
    s = fresh('shared')
    return {s: s}


ACCEPTED = [
    # name, value, protocol (None = default), encode
    ('doc-example', dir_value(fresh('4123'), 1700000000.5), None, True),
    ('new-directory', dir_value(fresh(''), 0.0), None, True),
    ('purging', dir_value(fresh('4123'), 1700000000.5, purging=True), None, True),
    ('purging-unmapped', dir_value(fresh(''), 0.0, purging=True), None, True),
    # remove_dir on a stalled directory writes the policy's unset fields as None
    ('purging-stalled-none', {'version': 1, 'instance_id': None, 'last_shuffled': None, 'purging': 1}, None, True),
    ('instance-id-1-byte', dir_value(fresh('7'), 1.0), None, True),
    ('realistic-time', dir_value(fresh('14235'), 1732561234.1234567), None, True),
    ('large-float', dir_value(fresh('1'), 1.7976931348623157e308), None, True),
    ('tiny-float', dir_value(fresh('1'), 5e-324), None, True),
    ('negative-zero', dir_value(fresh('1'), -0.0), None, True),
    ('long-instance-id', dir_value(LONG_ID, 1.5), None, True),
    ('non-ascii-instance-id', dir_value(NON_ASCII, 2.25), None, True),
    ('long-non-ascii', dir_value(LONG_NON_ASCII, 3.0), None, True),
    ('instance-record', instance_value(fresh('127.0.0.1:0/3214567890')), None, True),
    ('instance-record-v2', instance_value(fresh('v2:10.0.0.5:0/1234567')), None, True),
    ('instance-record-long-addr', instance_value(fresh('a' * 256)), None, True),
    ('ints-1-byte', {'zero': 0, 'one': 1, 'max': 255}, None, True),
    ('ints-2-bytes', {'min': 256, 'mid': 4123, 'max': 65535}, None, True),
    ('ints-4-bytes', {'min': 65536, 'big': 1700000000, 'max': 2**31 - 1, 'neg': -1, 'negmin': -(2**31)}, None, True),
    ('ints-long1', {'a': 2**31, 'b': -(2**31) - 1, 'c': 2**53 - 1, 'd': 2**63, 'e': -(2**64), 'f': 2**100}, None, True),
    ('bools-none', {'t': True, 'f': False, 'n': None}, None, True),
    ('empty-dict', {}, None, True),
    ('single-item', {'version': 1}, None, True),
    ('nested-dict', {'outer': {'inner': 1.5, 'name': fresh('x')}}, None, True),
    ('batch-1000', {f'k{i}': i for i in range(1000)}, None, True),
    ('batch-1001', {f'k{i}': i for i in range(1001)}, None, True),
    # Older / newer protocols: the decoder must read what any Python 3 pickler
    # could have written (an mgr on another Python may use another default).
    ('doc-example-p2', dir_value(fresh('4123'), 1700000000.5), 2, False),
    ('doc-example-p3', dir_value(fresh('4123'), 1700000000.5), 3, False),
    ('doc-example-p5', dir_value(fresh('4123'), 1700000000.5), 5, False),
    ('purging-p2', dir_value(fresh(''), 0.0, purging=True), 2, False),
    ('ints-long1-p2', {'a': 2**31, 'b': -(2**31) - 1, 'd': 2**63}, 2, False),
    ('non-ascii-p3', dir_value(NON_ASCII, 2.25), 3, False),
    ('batch-1001-p2', {f'k{i}': i for i in range(1001)}, 2, False),
    # CPython memoizes by identity: the same str object used as key and value is
    # written once and referenced with BINGET. The encoder cannot see identity.
    ('memo-shared-string', memo_shared(), None, False),
    ('ints-long4', {'huge': 2**2100}, None, True),  # > 255 bytes of two's complement
]


REJECTED = [
    ('list', [1, 2], None, 'list'),
    ('tuple-value', {'a': (1, 2)}, None, 'tuple'),
    ('bytes-value', {'a': b'x'}, None, 'bytes'),
    ('set-value', {'a': {1}}, None, 'set'),
    ('int-key', {1: 'a'}, None, 'key'),
    ('datetime-value', {'a': datetime.datetime(2024, 1, 1)}, None, 'global'),
    ('protocol-0', {'a': 1}, 0, 'protocol'),
    ('protocol-1', {'a': 1}, 1, 'protocol'),
    ('top-level-str', 'hello', None, 'dict'),
]


def main():
    accepted = []
    for name, value, protocol, encode in ACCEPTED:
        data = pickle.dumps(value) if protocol is None else pickle.dumps(value, protocol=protocol)
        assert pickle.loads(data) == value
        accepted.append({
            'name': name,
            'repr': repr(value) if len(repr(value)) <= 200 else repr(value)[:200] + '...',
            'protocol': protocol,
            'hex': data.hex(),
            'value': tag(value),
            'encode': encode,
        })

    rejected = []
    for name, value, protocol, reason in REJECTED:
        data = pickle.dumps(value) if protocol is None else pickle.dumps(value, protocol=protocol)
        rejected.append({'name': name, 'repr': repr(value), 'hex': data.hex(), 'reason': reason})
    good = pickle.dumps(dir_value(fresh('4123'), 1700000000.5))
    rejected.append({'name': 'truncated', 'repr': 'doc-example minus its last 5 bytes',
                     'hex': good[:-5].hex(), 'reason': 'truncated'})
    rejected.append({'name': 'trailing-bytes', 'repr': 'doc-example followed by 00',
                     'hex': (good + b'\x00').hex(), 'reason': 'trailing'})
    rejected.append({'name': 'empty', 'repr': 'zero bytes', 'hex': '', 'reason': 'truncated'})

    doc = {
        'generator': 'scripts/gen-pickle-fixtures.py',
        'python': sys.version.split()[0],
        'default_protocol': pickle.DEFAULT_PROTOCOL,
        'accepted': accepted,
        'rejected': rejected,
    }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, 'w', encoding='utf-8') as f:
        json.dump(doc, f, indent=1, ensure_ascii=False)
        f.write('\n')
    print(f'wrote {len(accepted)} accepted and {len(rejected)} rejected vectors to {os.path.normpath(OUT)}')


if __name__ == '__main__':
    main()
