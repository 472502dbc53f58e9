export { type CallInfo, tollgateInfo } from './call-info.js'
export type { CallReport, LimitWindow, TollgateOpenAIOptions } from './options.js'
export { type Fetch, type TollgateFetch, tollgateFetch } from './tollgate-fetch.js'
export { withTollgate } from './with-tollgate.js'
