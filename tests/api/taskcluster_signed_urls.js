// Makes signed URLs (Hawk bewits) and one refused trigger with the official JavaScript
// Taskcluster client, and prints them as JSON for tests/api/taskcluster_js.rs to judge.
//
// Usage: node taskcluster_signed_urls.js ROOT_URL CLIENT_ID ACCESS_TOKEN, with NODE_PATH holding
// taskcluster-client (scripts/services/taskcluster_js.sh). Nothing is judged here.

const taskcluster = require('taskcluster-client');

const [rootUrl, clientId, accessToken] = process.argv.slice(2);

const hooks = (credentials, options = {}) =>
  new taskcluster.Hooks({ rootUrl, credentials, retries: 0, ...options });

const main = async () => {
  const root = hooks({ clientId, accessToken });
  const narrow = hooks({ clientId, accessToken }, { authorizedScopes: ['hooks:get:js:h'] });
  const temporary = hooks(taskcluster.createTemporaryCredentials({
    scopes: ['hooks:get:js:*'],
    expiry: taskcluster.fromNow('1 hour'),
    credentials: { clientId, accessToken },
  }));
  const wrong = hooks({ clientId, accessToken: 'not-the-token' });
  const urls = {
    hook: root.buildSignedUrl(root.hook, 'js', 'h'),
    lastFires: root.buildSignedUrl(root.listLastFires, 'js', 'h', { limit: 1 }),
    authorizedHook: narrow.buildSignedUrl(narrow.hook, 'js', 'h'),
    authorizedOther: narrow.buildSignedUrl(narrow.hook, 'js', 'strict'),
    temporaryHook: temporary.buildSignedUrl(temporary.hook, 'js', 'h'),
    temporaryList: temporary.buildSignedUrl(temporary.listHooks, 'js'),
    wrongToken: wrong.buildSignedUrl(wrong.hook, 'js', 'h'),
    shortLived: root.buildSignedUrl(root.hook, 'js', 'h', { expiration: 60 }),
  };
  let trigger;
  try {
    trigger = { ok: await root.triggerHook('js', 'strict', { extra: true }) };
  } catch (err) {
    trigger = { status: err.statusCode, code: err.code, message: err.message };
  }
  process.stdout.write(JSON.stringify({ urls, trigger }));
};

main().catch(err => {
  console.error(err);
  process.exit(1);
});
