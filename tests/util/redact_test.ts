import assert from "node:assert/strict";
import { redact } from "../../lib/util/redact.ts";

Deno.test("redact masks every occurrence of the secret, and only with a secret", () => {
  assert.equal(redact("key s3cret, again s3cret", "s3cret"), "key ***, again ***");
  assert.equal(redact("nothing to hide", undefined), "nothing to hide");
  assert.equal(redact("an empty secret masks nothing", ""), "an empty secret masks nothing");
});
