// Word vectors in memory, compact: one Float32Array (vocabulary × dimensions) and a word → row map.
// Pure lookups; loading from disk lives in glove-loader.ts.

export interface WordVectorLookup {
  readonly dimensions: number;
  /** The vector of one vocabulary token (a read-only view), or undefined when out of vocabulary. */
  get(token: string): Float32Array | undefined;
}

export class WordVectors implements WordVectorLookup {
  readonly dimensions: number;
  private readonly rows: Map<string, number>;
  private readonly matrix: Float32Array;

  constructor(dimensions: number, rows: Map<string, number>, matrix: Float32Array) {
    if (matrix.length !== rows.size * dimensions) throw new RangeError(`Word vector matrix has ${matrix.length} values, expected ${rows.size} × ${dimensions}.`);
    this.dimensions = dimensions;
    this.rows = rows;
    this.matrix = matrix;
  }

  get size(): number {
    return this.rows.size;
  }

  has(token: string): boolean {
    return this.rows.has(token);
  }

  get(token: string): Float32Array | undefined {
    const row = this.rows.get(token);
    return row === undefined ? undefined : this.matrix.subarray(row * this.dimensions, (row + 1) * this.dimensions);
  }

  /** A small in-memory vocabulary, e.g. for tests. */
  static fromEntries(dimensions: number, entries: Iterable<[string, ArrayLike<number>]>): WordVectors {
    const list = [...entries];
    const rows = new Map<string, number>();
    const matrix = new Float32Array(list.length * dimensions);
    list.forEach(([token, vector], i) => {
      if (vector.length < dimensions) throw new RangeError(`Vector of ${JSON.stringify(token)} has ${vector.length} values, expected ${dimensions}.`);
      rows.set(token, i);
      for (let d = 0; d < dimensions; d++) matrix[i * dimensions + d] = vector[d]!;
    });
    return new WordVectors(dimensions, rows, matrix);
  }
}
