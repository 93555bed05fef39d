// Where downloaded blocks go. The block downloader asks a sink which blocks it
// already holds and hands it each verified block; a persistent store
// implements the same two calls.
import { hashToHex } from '../chain/hash.js';

export interface BlockSink {
  /** Whether the block with this hash (wire order) is already held: it is not downloaded again. */
  has(hash: Uint8Array): boolean | Promise<boolean>;
  /**
   * Takes a verified block. Called in any height order, once per block; the
   * downloader counts a block as stored once the promise resolves.
   */
  put(hash: Uint8Array, raw: Uint8Array, height: number): Promise<void>;
}

/** A sink in memory: for tests and short scripts. */
export class MemoryBlockSink implements BlockSink {
  private readonly blocks = new Map<string, { raw: Uint8Array; height: number }>();
  /** Every put, in call order (height and display-order hash). */
  readonly puts: Array<{ height: number; hash: string }> = [];

  has(hash: Uint8Array): boolean {
    return this.blocks.has(hashToHex(hash));
  }

  async put(hash: Uint8Array, raw: Uint8Array, height: number): Promise<void> {
    const key = hashToHex(hash);
    this.puts.push({ height, hash: key });
    this.blocks.set(key, { raw, height });
  }

  /** The raw block with this hash, if held. */
  get(hash: Uint8Array): Uint8Array | undefined {
    return this.blocks.get(hashToHex(hash))?.raw;
  }

  get size(): number {
    return this.blocks.size;
  }
}
