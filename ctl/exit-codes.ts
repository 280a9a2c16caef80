/**
 * vpp-cnictl's exit codes: one table for every command, each code saying what actually happened, so a
 * script can tell "VPP said no" from "VPP could not be reached" from "VPP sent something unreadable".
 * README.md lists the same table (a test compares them).
 */
export const EXIT = {
  ok: 0,
  /** The other side answered "no": VPP returned a negative retval (its name is printed), or the agent does not know the pod. */
  refused: 1,
  /** Bad usage or bad input (unknown message or field, invalid JSON, a value out of range). */
  usage: 2,
  /** Could not connect (socket missing, permission, refused, handshake) or the connection was lost. */
  connect: 3,
  /** API mismatch: a message is missing from the running VPP or has another CRC. */
  incompatible: 4,
  /** No answer in time (--timeout). */
  timeout: 5,
  /** A bad answer: a frame or message this vpp-cnictl cannot read (stream out of step, truncated, agent of another release). */
  badAnswer: 6,
  /** A bug in vpp-cnictl itself. */
  internal: 7,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** The table as the README shows it (between its exit-codes markers). */
export const EXIT_TABLE: readonly [ExitCode, string][] = [
  [EXIT.ok, 'ok'],
  [EXIT.refused, 'VPP returned an error (its retval name is printed); for `pods`/`pod`/`node`/`service`: the agent does not know the pod or Service, its node dataplane is off, or it answered with an error (`node cleanup`: some objects could not be removed)'],
  [EXIT.usage, 'usage or bad input'],
  [EXIT.connect, 'cannot connect, or the connection was lost (missing socket, permission, refused, closed by the peer)'],
  [EXIT.incompatible, 'API mismatch (a message missing or with another CRC)'],
  [EXIT.timeout, 'timeout'],
  [EXIT.badAnswer, 'bad answer: VPP or the agent sent something vpp-cnictl cannot read (a frame out of step, a truncated message, an agent of another release)'],
  [EXIT.internal, 'internal error of vpp-cnictl'],
];

/** The README's table, rendered from EXIT_TABLE. */
export function exitTableMarkdown(): string {
  return ['| code | meaning |', '|---|---|', ...EXIT_TABLE.map(([c, t]) => `| ${c} | ${t} |`)].join('\n');
}
