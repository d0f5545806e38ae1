// Taskcluster's scope library as an oracle for hookd's allow/deny decisions.
//
// Usage: node scopes_oracle.js < table.json, with NODE_PATH holding taskcluster-lib-scopes
// (scripts/services/taskcluster_js.sh). The table is {roles: [{roleId, scopes}], cases:
// [{scopes, required}]}; this prints one boolean per case: may a caller holding `scopes` do
// what `required` needs? Roles are expanded here by Taskcluster's documented rules (roles and
// parameterized roles, docs "Roles and Role Expansion"), with every match decided by the
// library's satisfiesExpression, and the final decision is satisfiesExpression too. The test
// in scopes_oracle.rs compares these answers with hookd's, asked through its HTTP API.

const { satisfiesExpression } = require('taskcluster-lib-scopes');

// The part of the assumed name that a star role's `*` matched, or null when `held` does not
// reach the role; '' for a role without a star.
const parameter = (held, roleId) => {
  const target = `assume:${roleId}`;
  if (!roleId.endsWith('*')) {
    return satisfiesExpression([held], target) ? '' : null;
  }
  const prefix = target.slice(0, -1);
  // The role's pattern covers the held scope: the star matched the rest of it.
  if (satisfiesExpression([target], held)) {
    return held.slice(prefix.length);
  }
  // A held family wider than the pattern covers all of it: the star matched anything.
  if (held.endsWith('*') && satisfiesExpression([held], prefix)) {
    return '*';
  }
  return null;
};

const substitute = (scope, param) => {
  const at = scope.indexOf('<..>');
  if (at < 0) {
    return scope;
  }
  if (param.endsWith('*')) {
    return scope.slice(0, at) + param;
  }
  return scope.slice(0, at) + param + scope.slice(at + 4);
};

const expand = (roles, scopes) => {
  const held = new Set([...scopes, 'assume:anonymous']);
  let grew = true;
  while (grew) {
    grew = false;
    for (const scope of [...held]) {
      for (const role of roles) {
        const param = parameter(scope, role.roleId);
        if (param === null) {
          continue;
        }
        for (const granted of role.scopes) {
          const s = role.roleId.endsWith('*') ? substitute(granted, param) : granted;
          if (!held.has(s)) {
            held.add(s);
            grew = true;
          }
        }
      }
    }
  }
  return [...held];
};

let input = '';
process.stdin.on('data', chunk => { input += chunk; });
process.stdin.on('end', () => {
  const { roles, cases } = JSON.parse(input);
  const answers = cases.map(({ scopes, required }) =>
    satisfiesExpression(expand(roles, scopes), { AllOf: required }));
  process.stdout.write(JSON.stringify(answers));
});
