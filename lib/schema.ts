import { Type } from '@sinclair/typebox'

// Building blocks of config sections, shared by the base sections and the backends' own.

export const NonEmpty = (description: string) => Type.String({ minLength: 1, description })
// DNS names stop at 253 characters (RFC 1035); a longer host resolves nowhere.
export const Host = (description: string) => Type.String({ minLength: 1, maxLength: 253, description })
// A plain JSON Schema enum, so a wrong value gets one error listing the choices.
export function StringEnum<const T extends string> (values: readonly T[], options: { default?: NoInfer<T>, description: string }) {
  return Type.Unsafe<T>({ type: 'string', enum: values, ...options })
}
export const Port = (fallback?: number) => Type.Integer({ minimum: 1, maximum: 65535, ...(fallback ? { default: fallback } : {}), description: 'TCP port, 1-65535' })
// For a local S3- or DynamoDB-compatible server (npm run demo uses one); AWS needs none.
export const Endpoint = Type.Optional(Type.String({ pattern: '^https?://', description: 'an http:// or https:// URL of an S3- or DynamoDB-compatible server' }))
