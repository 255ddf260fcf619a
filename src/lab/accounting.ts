/**
 * The lab's saved-bytes accounting of a GPT step: the analytic model plus the engine's itemised
 * corrections. It lives in src/memory/gpt-step.ts, where `npm run verify` checks it too.
 */
export { savedBreakdown, transformerConfig, type Correction, type SavedBreakdown } from '../memory/gpt-step.ts';
