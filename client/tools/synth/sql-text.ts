/** Quoting for the few values that cannot be bound as parameters (file paths in COPY, table and schema names). */

/** A SQL string literal: single quotes doubled. */
export function sqlStringLiteral(value: string): string {
  if (value.includes('\0')) throw new RangeError('a SQL string literal cannot contain NUL');
  return `'${value.replaceAll("'", "''")}'`;
}

const PLAIN_IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/**
 * A quoted SQL identifier. Only plain names are accepted (letters, digits, underscore), so nothing a caller
 * passes can change the statement's shape.
 * @throws RangeError when `name` is not a plain identifier; the message names `what`.
 */
export function sqlIdentifier(name: string, what: string): string {
  if (typeof name !== 'string' || !PLAIN_IDENTIFIER.test(name)) {
    throw new RangeError(`${what} must be a plain identifier (letters, digits, underscore; at most 63 characters)`);
  }
  return `"${name}"`;
}
