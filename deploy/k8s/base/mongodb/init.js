// mongodb-init: rs.initiate (once) and per-service users (every run). Runs with `mongosh --nodb`.
const members = parseInt(process.env.MONGO_MEMBERS || "3", 10);
const svc = process.env.MONGO_SERVICE || "mongodb";
const user = process.env.MONGO_ADMIN_USERNAME;
const pass = process.env.MONGO_ADMIN_PASSWORD;
const host = (i) => `${svc}-${i}.${svc}:27017`;

function connectWithRetry(uri) {
  for (let attempt = 1; ; attempt++) {
    try {
      return connect(uri);
    } catch (e) {
      if (attempt >= 60) throw e;
      print(`waiting for ${uri.replace(/\/\/.*@/, "//")} (${e.message})`);
      sleep(5000);
    }
  }
}

// 1. Replica set: initiate through member 0 unless it already has a configuration.
let admin = connectWithRetry(`mongodb://${encodeURIComponent(user)}:${encodeURIComponent(pass)}@${host(0)}/admin?directConnection=true`);
// runCommand may return {ok: 0, codeName} or throw, depending on the shell version: accept both.
function replStatus() {
  try {
    return admin.runCommand({ replSetGetStatus: 1 });
  } catch (e) {
    return { ok: 0, codeName: e.codeName, errmsg: e.message };
  }
}
const status = replStatus();
if (status.ok !== 1) {
  if (status.codeName !== "NotYetInitialized") throw new Error(`replSetGetStatus: ${status.errmsg}`);
  const config = { _id: "rs0", members: [...Array(members).keys()].map((i) => ({ _id: i, host: host(i) })) };
  printjson(admin.runCommand({ replSetInitiate: config }));
}

// 2. Wait for a primary, then talk to the set.
const seeds = [...Array(members).keys()].map(host).join(",");
for (let i = 0; i < 60; i++) {
  const s = replStatus();
  if (s.ok === 1 && s.members.some((m) => m.stateStr === "PRIMARY")) break;
  print("waiting for a primary");
  sleep(2000);
}
const rs = connectWithRetry(`mongodb://${encodeURIComponent(user)}:${encodeURIComponent(pass)}@${seeds}/admin?replicaSet=rs0`);

// 3. One user per service, scoped to its own database.
for (const [name, env] of [["identity", "IDENTITY_PASSWORD"], ["school", "SCHOOL_PASSWORD"], ["chat", "CHAT_PASSWORD"], ["media_signal", "MEDIA_SIGNAL_PASSWORD"], ["audit", "AUDIT_PASSWORD"]]) {
  const pwd = process.env[env];
  if (!pwd) throw new Error(`${env} is missing from the Secret mongodb-users`);
  const db = rs.getSiblingDB(`parta_${name}`);
  const roles = [{ role: "readWrite", db: `parta_${name}` }];
  if (db.getUser(name) === null) {
    db.createUser({ user: name, pwd, roles });
    print(`created user ${name}`);
  } else {
    db.updateUser(name, { pwd, roles });
    print(`updated user ${name}`);
  }
}
print("mongodb-init done");
