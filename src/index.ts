export { ErrorCode, isTubesError, TubesError } from './errors.ts';
