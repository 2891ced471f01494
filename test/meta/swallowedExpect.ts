/**
 * Finds assertions that can be swallowed (issue #19): an `expect` inside a `try` whose `catch` does not
 * rethrow, or inside the promise chain before a `.catch(handler)` that does not rethrow (an AssertionError
 * is an Error like any other, so such a catch can turn a failing assertion into a pass); and an `expect`
 * only in a `catch` or a `.catch(handler)` (it runs only if something throws: when nothing does, nothing
 * is asserted).
 *
 * A heuristic over the TypeScript syntax tree, not a proof: a catch containing any `throw` is trusted.
 */
import ts from 'typescript';

export interface SwallowedExpect {
  /** 1-based line of the `try` or of the `.catch(`. */
  readonly line: number;
  readonly kind: 'try/catch' | 'catch-only' | '.catch()';
}

function isExpectCall(node: ts.Node): boolean {
  if (!ts.isCallExpression(node)) return false;
  // expect(x), expect.unreachable(), expect.soft(x), expect.poll(...)
  let callee: ts.Expression = node.expression;
  if (ts.isPropertyAccessExpression(callee)) callee = callee.expression;
  return ts.isIdentifier(callee) && callee.text === 'expect';
}

function contains(node: ts.Node, test: (n: ts.Node) => boolean): boolean {
  let found = false;
  const visit = (n: ts.Node): void => {
    if (found) return;
    if (test(n)) found = true;
    else ts.forEachChild(n, visit);
  };
  visit(node);
  return found;
}

/** A handler rethrows when it holds a `throw`, or passes the error on to a promise's `reject(...)`. */
function rethrows(handler: ts.Node): boolean {
  return contains(
    handler,
    (n) => n.kind === ts.SyntaxKind.ThrowStatement || (ts.isCallExpression(n) && /^reject$/.test(n.expression.getText()) && n.arguments.length > 0),
  );
}

export function findSwallowedExpects(source: string, fileName = 'file.ts'): SwallowedExpect[] {
  const file = ts.createSourceFile(fileName, source, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const found: SwallowedExpect[] = [];
  const line = (n: ts.Node): number => file.getLineAndCharacterOfPosition(n.getStart(file)).line + 1;
  const visit = (node: ts.Node): void => {
    if (ts.isTryStatement(node) && node.catchClause !== undefined && contains(node.tryBlock, isExpectCall) && !rethrows(node.catchClause.block)) {
      found.push({ line: line(node), kind: 'try/catch' });
    } else if (ts.isTryStatement(node) && node.catchClause !== undefined && contains(node.catchClause.block, isExpectCall)) {
      found.push({ line: line(node), kind: 'catch-only' });
    }
    if (
      ts.isCallExpression(node) &&
      ts.isPropertyAccessExpression(node.expression) &&
      node.expression.name.text === 'catch' &&
      node.arguments.length > 0 &&
      contains(node.expression.expression, isExpectCall) &&
      !rethrows(node.arguments[0]!)
    ) {
      found.push({ line: line(node.expression.name), kind: '.catch()' });
    } else if (ts.isCallExpression(node) && ts.isPropertyAccessExpression(node.expression) && node.expression.name.text === 'catch' && node.arguments.length > 0 && contains(node.arguments[0]!, isExpectCall)) {
      found.push({ line: line(node.expression.name), kind: 'catch-only' });
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return found;
}
