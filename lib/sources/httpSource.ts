// Moved to lib/sources/http/; kept so that existing imports of this path go on working.
export { httpSource, httpSourceOptions, httpSourceSpec, type HttpSourceOptions } from './http/httpSource.js';
