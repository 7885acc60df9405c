/**
 * Pickle opcodes (Python's `pickletools` names). Only the ones in SUPPORTED are read or
 * written; the others are listed so an unsupported pickle is reported by name.
 */
export const Op = {
  PROTO: 0x80,
  FRAME: 0x95,
  STOP: 0x2e, // '.'
  MARK: 0x28, // '('
  EMPTY_DICT: 0x7d, // '}'
  SETITEM: 0x73, // 's'
  SETITEMS: 0x75, // 'u'
  SHORT_BINUNICODE: 0x8c,
  BINUNICODE: 0x58, // 'X'
  BINUNICODE8: 0x8d,
  BININT1: 0x4b, // 'K'
  BININT2: 0x4d, // 'M'
  BININT: 0x4a, // 'J'
  LONG1: 0x8a,
  LONG4: 0x8b,
  BINFLOAT: 0x47, // 'G'
  NEWTRUE: 0x88,
  NEWFALSE: 0x89,
  NONE: 0x4e, // 'N'
  MEMOIZE: 0x94,
  BINPUT: 0x71, // 'q'
  LONG_BINPUT: 0x72, // 'r'
  BINGET: 0x68, // 'h'
  LONG_BINGET: 0x6a, // 'j'
} as const;

/** Opcodes that exist but are refused, by byte, so errors can name them. */
const OTHER_OPCODES: Record<number, string> = {
  0x29: 'EMPTY_TUPLE',
  0x5d: 'EMPTY_LIST',
  0x8f: 'EMPTY_SET',
  0x85: 'TUPLE1',
  0x86: 'TUPLE2',
  0x87: 'TUPLE3',
  0x74: 'TUPLE',
  0x6c: 'LIST',
  0x61: 'APPEND',
  0x65: 'APPENDS',
  0x90: 'ADDITEMS',
  0x91: 'FROZENSET',
  0x64: 'DICT',
  0x43: 'SHORT_BINBYTES',
  0x42: 'BINBYTES',
  0x8e: 'BINBYTES8',
  0x96: 'BYTEARRAY8',
  0x97: 'NEXT_BUFFER',
  0x98: 'READONLY_BUFFER',
  0x55: 'SHORT_BINSTRING',
  0x54: 'BINSTRING',
  0x53: 'STRING',
  0x56: 'UNICODE',
  0x49: 'INT',
  0x4c: 'LONG',
  0x46: 'FLOAT',
  0x63: 'GLOBAL',
  0x93: 'STACK_GLOBAL',
  0x52: 'REDUCE',
  0x62: 'BUILD',
  0x69: 'INST',
  0x6f: 'OBJ',
  0x81: 'NEWOBJ',
  0x92: 'NEWOBJ_EX',
  0x50: 'PERSID',
  0x51: 'BINPERSID',
  0x82: 'EXT1',
  0x83: 'EXT2',
  0x84: 'EXT4',
  0x70: 'PUT',
  0x67: 'GET',
  0x30: 'POP',
  0x31: 'POP_MARK',
  0x32: 'DUP',
};

const SUPPORTED_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(Op).map(([name, code]) => [code, name]),
);

/** `NAME (0xNN)` for an opcode byte, or `unknown opcode 0xNN`. */
export function describeOpcode(code: number): string {
  const hex = `0x${code.toString(16).padStart(2, '0')}`;
  const name = SUPPORTED_NAMES[code] ?? OTHER_OPCODES[code];
  return name === undefined ? `unknown opcode ${hex}` : `${name} (${hex})`;
}
