// A VPC endpoint's policy, read as IAM evaluates one for a request that passes through the
// endpoint: a Deny that matches wins, else a matching Allow is needed (no statement: denied).
// A pure function over the policy's text, as DescribeVpcEndpoints gives it.
// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
// https://docs.aws.amazon.com/vpc/latest/privatelink/vpc-endpoints-access.html

export interface PolicyRequest {
  action: string
  resource: string
}

export interface PolicyDecision {
  allowed: boolean
  // The Deny statement that matched: its Sid, else its place ("statement 2").
  deniedBy?: string
}

interface Statement {
  Sid?: string
  Effect?: string
  Principal?: unknown
  NotPrincipal?: unknown
  Action?: string | string[]
  NotAction?: string | string[]
  Resource?: string | string[]
  NotResource?: string | string[]
  Condition?: unknown
}

// `principals`: the ARNs the request's principal goes by (its role, its account); empty when
// unknown, and then any principal a statement names is taken to match. A statement with a
// Condition is one this function cannot judge (it would need the request's context): an Allow
// with one is taken to allow, a Deny with one to deny nothing, so that a verdict of "denied"
// is certain. An unreadable policy denies nothing.
export function decide (document: string | undefined, request: PolicyRequest, principals: string[]): PolicyDecision {
  const statements = parse(document)
  if (!statements) return { allowed: true }
  const applies = (statement: Statement) => matchesPrincipal(statement, principals) &&
    matchesEither(statement.Action, statement.NotAction, request.action, true) &&
    matchesEither(statement.Resource, statement.NotResource, request.resource, false)
  const denial = statements.findIndex(statement => statement.Effect === 'Deny' && statement.Condition === undefined && applies(statement))
  if (denial >= 0) return { allowed: false, deniedBy: statements[denial].Sid || `statement ${denial + 1}` }
  return { allowed: statements.some(statement => statement.Effect === 'Allow' && applies(statement)) }
}

function parse (document: string | undefined): Statement[] | undefined {
  try {
    const statement: unknown = document && JSON.parse(document).Statement
    if (Array.isArray(statement)) return statement as Statement[]
    return statement && typeof statement === 'object' ? [statement as Statement] : undefined
  } catch {
    return undefined
  }
}

// Action (or NotAction) and Resource (or NotResource): patterns with * and ?; actions ignore case.
function matchesEither (patterns: string | string[] | undefined, notPatterns: string | string[] | undefined, value: string, ignoreCase: boolean): boolean {
  if (patterns !== undefined) return [patterns].flat().some(pattern => wildcard(pattern, value, ignoreCase))
  if (notPatterns !== undefined) return ![notPatterns].flat().some(pattern => wildcard(pattern, value, ignoreCase))
  return false
}

function matchesPrincipal ({ Principal, NotPrincipal }: Statement, principals: string[]): boolean {
  if (NotPrincipal !== undefined) return principals.length === 0 || !named(NotPrincipal).some(name => principals.some(p => wildcard(name, p, false)))
  const names = named(Principal)
  return names.includes('*') || principals.length === 0 || names.some(name => principals.some(p => wildcard(name, p, false)))
}

// "*", {"AWS": "*"} or {"AWS": [ARNs or account ids]}.
function named (principal: unknown): string[] {
  if (typeof principal === 'string') return [principal]
  if (principal && typeof principal === 'object') return Object.values(principal).flat().filter((name): name is string => typeof name === 'string')
  return []
}

function wildcard (pattern: string, value: string, ignoreCase: boolean): boolean {
  const source = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')
  return new RegExp(`^${source}$`, ignoreCase ? 'i' : '').test(value)
}
