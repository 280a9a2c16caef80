/** Where a command prints: injected so commands can be run and checked without a terminal. */
export interface Io {
  out(line: string): void;
  err(line: string): void;
}
