// Piscina loads its task module by file name; from TypeScript sources (tests, tsx runs) a
// worker cannot load `.ts` on Node 20, so this shim registers tsx and re-exports the task.
// Compiled builds load recovery-task.js directly and never use this file.
import { register } from 'tsx/esm/api'

register()
const task = await import(new URL('./recovery-task.ts', import.meta.url).href)
export default task.default
