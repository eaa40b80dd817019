// The provisioning sheet both the page and the task pane tests use: 200 rows, 12 of them
// invalid in 12 different ways, the rest new users with attributes (some `::` lists, some
// non-Latin names).
export const HEADER = ['Username', 'First name', 'Last name', 'Email', 'User type', 'Password', 'Time zone', 'Expiration date', 'Role', 'Hotel'];

/** `{rows, valid, invalidRows}`: rows include the header; valid are the rows expected created. */
export function provisionSheet(userType, tag = 'p') {
  const rows = [HEADER];
  const valid = [];
  const names = [['José', 'Núñez'], ['伟', '王'], ['Анна', 'Иванова'], ['Zoë', "O'Brien"]];
  for (let i = 0; i < 188; i++) {
    const [first, last] = names[i % names.length];
    const username = `${tag}${i}@roster-test.org`;
    const hotel = i % 3 === 0 ? 'Seattle::Provo' : i % 3 === 1 ? 'Boston' : '';
    const row = [username, first, last, username, userType, `Pw-${i}-secret`, i % 2 ? 'Europe/Berlin' : '', '', i % 2 ? 'Manager' : 'Agent', hotel];
    rows.push(row);
    valid.push({ username, first, last, role: row[8], hotel });
  }
  const bad = [
    [`${tag}bad1@roster-test.org`, 'A', 'B', 'not-an-email', userType, 'pw', '', '', 'Agent', ''],
    [`${tag}bad2@roster-test.org`, 'A', 'B', 'a b@x.org', userType, 'pw', '', '', 'Agent', ''],
    [`${tag}bad3!@roster-test.org`, 'A', 'B', `${tag}bad3@roster-test.org`, userType, 'pw', '', '', 'Agent', ''],
    [`${tag}bad4@roster-test.org`, 'A<', 'B', `${tag}bad4@roster-test.org`, userType, 'pw', '', '', 'Agent', ''],
    [`${tag}bad5@roster-test.org`, 'A', 'B', `${tag}bad5@roster-test.org`, userType, '', '', '', 'Agent', ''],
    [`${tag}bad6@roster-test.org`, '', 'B', `${tag}bad6@roster-test.org`, userType, 'pw', '', '', 'Agent', ''],
    // Two rows for one account, each valid on its own: neither is sent.
    [`${tag}twice@roster-test.org`, 'Dup', 'Licate', `${tag}twice@roster-test.org`, userType, 'pw', '', '', 'Agent', ''],
    [`${tag}TWICE@roster-test.org`, 'Dup', 'Licate', `${tag}twice@roster-test.org`, userType, 'pw', '', '', 'Manager', ''],
    [`${tag}bad9@roster-test.org`, 'A', 'B', `${tag}bad9@roster-test.org`, userType, 'pw', 'Mars/Base', '', 'Agent', ''],
    [`${tag}bad10@roster-test.org`, 'A', 'B', `${tag}bad10@roster-test.org`, userType, 'pw', '', '31/12/2027', 'Agent', ''],
    [`${tag}bad11@roster-test.org`, 'A', 'B', `${tag}bad11@roster-test.org`, userType, 'pw', '', '', 'Agent', 'Seattle::::Provo'],
    [`${tag}bad12@roster-test.org`, 'A', 'B', `${tag}bad12@roster-test.org`, 'Wizard', 'pw', '', '', 'Agent', ''],
  ];
  rows.push(...bad);
  const invalidRows = bad.map((_, i) => 190 + i); // sheet rows 190..201
  return { rows, valid, invalidRows };
}

/** Every directory participant of the sandbox, with attributes (waiting out its rate limit). */
export async function sandboxParticipants(server) {
  const all = [];
  let skipToken;
  do {
    let res;
    for (let attempt = 0; attempt < 20; attempt++) {
      res = await fetch(`${server.url}/sandbox/API/v3/employee-directories/cx/participants?includeMetadata=true&pageSize=100`, {
        method: 'POST',
        headers: { 'x-api-token': server.adminToken, 'content-type': 'application/json' },
        body: JSON.stringify(skipToken ? { skipToken } : {}),
      });
      if (res.status !== 429) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    const body = await res.json();
    const page = body.result ?? body;
    all.push(...page.participants);
    skipToken = page.skipToken;
  } while (skipToken);
  return all;
}

/** A user type id of the sandbox that is not the brand administrator's. */
export async function standardUserType(server) {
  const body = await (await fetch(`${server.url}/sandbox/API/v3/users`, { headers: { 'x-api-token': server.adminToken } })).json();
  return body.result.elements.find((u) => u.userType !== 'UT_BRANDADMIN').userType;
}

/** Checks the sandbox holds each valid row's account and attributes. */
export function assertProvisioned(assert, valid, participants) {
  const byName = new Map(participants.map((p) => [p.username, p]));
  for (const v of valid) {
    const p = byName.get(v.username);
    assert.ok(p, `${v.username} has a directory participant`);
    assert.equal(p.firstName, v.first);
    assert.equal(p.metadata.Role, v.role, `${v.username} Role`);
    assert.equal(p.metadata.Hotel, v.hotel || undefined, `${v.username} Hotel`);
  }
}
