export function RequestView() {
  return <section><h1>Request</h1></section>;
}
