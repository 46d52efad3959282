/** The bytes the engine-kill child writes for record `i` of call `tag` (the parent checks them). */
export function crashRecordValue(tag: string, i: number): string {
  return `${tag}#${i}:`.padEnd(60 + (i * 13) % 50, String.fromCharCode(97 + (i % 26)))
}
