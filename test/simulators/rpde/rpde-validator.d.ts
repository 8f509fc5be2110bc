// The OpenActive validator ships no types; this declares the part the tests call.
declare module '@openactive/rpde-validator' {
  export interface RpdeValidationError {
    readonly rule: string;
    readonly type: string;
    readonly severity: 'failure' | 'warning' | 'notice' | 'suggestion';
    readonly message: string;
    readonly url?: string;
  }
  export interface RpdeFeedLog {
    readonly url: string;
    readonly pages: readonly { readonly url: string; readonly errors: readonly RpdeValidationError[] }[];
  }
  export interface RpdeValidatorOptions {
    readonly logCallback?: (log: { verbosity: number; percentage: number; message: string }) => void;
    readonly userAgent?: string | null;
    readonly requestDelayMs?: number;
    readonly timeoutMs?: number;
    readonly pageLimit?: number;
  }
  export function RpdeValidator(url: string, options?: RpdeValidatorOptions): Promise<RpdeFeedLog>;
}
