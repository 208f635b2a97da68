import assert from "node:assert/strict";
import {
  escapeHelp,
  escapeLabelValue,
  formatValue,
  MetricRegistry,
} from "../../lib/metrics/registry.ts";

Deno.test("families render in the text format, in registration order", () => {
  const registry = new MetricRegistry();
  const requests = registry.counter("demo_requests_total", "Requests answered.");
  requests.inc({ command: "MARKET" });
  requests.inc({ command: "MARKET" }, 2);
  requests.inc({ command: "PING" });
  registry.gauge("demo_open", "Open things.").set({}, 4);
  registry.collect("demo_age_seconds", "Age.", "gauge", () => [{ value: 1.5 }]);
  assert.equal(
    registry.render(),
    [
      "# HELP demo_requests_total Requests answered.",
      "# TYPE demo_requests_total counter",
      'demo_requests_total{command="MARKET"} 3',
      'demo_requests_total{command="PING"} 1',
      "# HELP demo_open Open things.",
      "# TYPE demo_open gauge",
      "demo_open 4",
      "# HELP demo_age_seconds Age.",
      "# TYPE demo_age_seconds gauge",
      "demo_age_seconds 1.5",
      "",
    ].join("\n"),
  );
});

Deno.test("label values and help text are escaped; special values are spelt as Go does", () => {
  assert.equal(escapeLabelValue('a\\b"c\nd'), 'a\\\\b\\"c\\nd');
  assert.equal(escapeHelp('a\\b"c\nd'), 'a\\\\b"c\\nd');
  assert.deepEqual([NaN, Infinity, -Infinity, 0.25, 12].map(formatValue), [
    "NaN",
    "+Inf",
    "-Inf",
    "0.25",
    "12",
  ]);
  const registry = new MetricRegistry();
  registry.counter("x_total", "Line one\nline two \\ end").inc({ reason: 'say "hi"\n' });
  assert.match(registry.render(), /# HELP x_total Line one\\nline two \\\\ end\n/);
  assert.match(registry.render(), /x_total\{reason="say \\"hi\\"\\n"\} 1/);
});

Deno.test("invalid names, duplicate families and negative increments are refused", () => {
  const registry = new MetricRegistry();
  assert.throws(() => registry.counter("1bad", "x"), /Invalid metric name/);
  registry.counter("ok_total", "x").inc({ "bad-label": "v" });
  assert.throws(() => registry.render(), /Invalid label name/);
  assert.throws(() => registry.counter("ok_total", "x"), /registered twice/);
  assert.throws(() => new MetricRegistry().counter("c_total", "x").inc({}, -1), /Cannot add -1/);
});
