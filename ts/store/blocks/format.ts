// The bytes of the block store: data-file records, index records, file names.
//
// Data files (blk00000.dat, blk00001.dat, …) hold records exactly as Bitcoin
// Core's do: network magic (4 bytes, as on the wire) · block length (u32 LE) ·
// the raw block. The index (index.dat) is a 16-byte header, "PWBI" · format
// (u32 LE) · network magic · reserved (u32), then fixed-size 52-byte records:
//   block hash (32, wire order) · file number (u32) · offset of the data record
//   (u32) · block length (u32) · CRC-32 of the block (u32) · CRC-32 of the 48
//   bytes before it (u32)
// A record whose length is 0 is a tombstone: the hash is forgotten (a block
// found corrupt). Replay is last-record-wins.
import { crc32 } from 'node:zlib';

export const INDEX_FILE = 'index.dat';
export const INDEX_MAGIC = Buffer.from('PWBI', 'ascii');
export const INDEX_FORMAT = 1;
export const INDEX_HEADER_BYTES = 16;
export const INDEX_RECORD_BYTES = 52;
/** magic + length before each block in a data file. */
export const DATA_PREFIX_BYTES = 8;
/** A block is at least its 80-byte header and one transaction count byte. */
export const MIN_BLOCK_BYTES = 81;
/** Offsets and lengths are u32. */
export const MAX_FILE_BYTES = 0xffff_ffff;

/** Where one block's bytes are. `offset` is that of its data record (the magic). */
export interface BlockLocation {
  file: number;
  offset: number;
  length: number;
  /** CRC-32 of the block's bytes. */
  crc: number;
}

export interface IndexRecord extends BlockLocation {
  hash: Buffer;
}

/** blk00000.dat for file 0, as Core names them. */
export function dataFileName(file: number): string {
  return `blk${String(file).padStart(5, '0')}.dat`;
}

/** The file number of a data file's name, or undefined for other names. */
export function dataFileNumber(name: string): number | undefined {
  const m = /^blk(\d{5,})\.dat$/.exec(name);
  return m ? Number(m[1]) : undefined;
}

export function blockCrc(raw: Uint8Array): number {
  return crc32(raw) >>> 0;
}

export function encodeIndexHeader(magic: Uint8Array): Buffer {
  const out = Buffer.alloc(INDEX_HEADER_BYTES);
  INDEX_MAGIC.copy(out, 0);
  out.writeUInt32LE(INDEX_FORMAT, 4);
  out.set(magic, 8);
  return out;
}

/** Writes one index record into `out` at `at`. */
export function writeIndexRecord(out: Buffer, at: number, record: IndexRecord): void {
  out.set(record.hash, at);
  out.writeUInt32LE(record.file, at + 32);
  out.writeUInt32LE(record.offset, at + 36);
  out.writeUInt32LE(record.length, at + 40);
  out.writeUInt32LE(record.crc >>> 0, at + 44);
  out.writeUInt32LE(crc32(out.subarray(at, at + 48)) >>> 0, at + 48);
}

export function encodeIndexRecords(records: readonly IndexRecord[]): Buffer {
  const out = Buffer.allocUnsafe(records.length * INDEX_RECORD_BYTES);
  records.forEach((r, i) => {
    writeIndexRecord(out, i * INDEX_RECORD_BYTES, r);
  });
  return out;
}

/** The record at `at`, or undefined when its checksum does not match. */
export function readIndexRecord(bytes: Buffer, at: number): IndexRecord | undefined {
  const sum = bytes.readUInt32LE(at + 48);
  if (crc32(bytes.subarray(at, at + 48)) >>> 0 !== sum) return undefined;
  return {
    hash: Buffer.from(bytes.subarray(at, at + 32)),
    file: bytes.readUInt32LE(at + 32),
    offset: bytes.readUInt32LE(at + 36),
    length: bytes.readUInt32LE(at + 40),
    crc: bytes.readUInt32LE(at + 44),
  };
}

export function encodeDataPrefix(magic: Uint8Array, length: number): Buffer {
  const out = Buffer.allocUnsafe(DATA_PREFIX_BYTES);
  out.set(magic, 0);
  out.writeUInt32LE(length, 4);
  return out;
}

/** A hash as a map key. */
export function keyOf(hash: Uint8Array): string {
  return Buffer.from(hash.buffer, hash.byteOffset, hash.byteLength).toString('hex');
}
