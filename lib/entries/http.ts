/** `rxflume/http`: the HTTP source with its handlers, and the HTTP sink. */
export { httpSource, type HttpSourceOptions } from '../sources/http/httpSource.js';
export {
  defineHttpHandler,
  isHttpHandlerDefinition,
  type HttpBodyReader,
  type HttpHandler,
  type HttpHandlerDefinition,
  type HttpHandlerSpec,
  type Refusal as HttpRefusal,
} from '../sources/http/handlers.js';
export { httpSink, type HttpSinkOptions } from '../sinks/httpSink.js';
