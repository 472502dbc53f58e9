/** Status codes of `n` sequential GETs (the Fastify and Express suites both count admissions this way). */
export async function statuses(url: string, n: number, headers: Record<string, string> = {}): Promise<number[]> {
  const codes: number[] = []
  for (let i = 0; i < n; i++) {
    const response = await fetch(url, { headers })
    await response.arrayBuffer()
    codes.push(response.status)
  }
  return codes
}
