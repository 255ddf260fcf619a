/** Analytic memory models (the `memory` namespace): Table 7 audit, per-method memory, Appendix C. */
export * from './model.ts';
export * from './adapters.ts';
export * from './table7.ts';
