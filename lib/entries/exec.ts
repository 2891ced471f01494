/** `rxflume/exec`: the exec source (a command's output as events). */
export { execSource, type ExecSourceOptions } from '../sources/execSource.js';
