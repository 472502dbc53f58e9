// The admin token: asked for once, kept in sessionStorage (this tab only, gone when it closes), so
// it is not sent anywhere but the admin API and does not outlive the session.
const KEY = 'tollgate.adminToken'

export function storedToken() {
  return sessionStorage.getItem(KEY)
}

export function forgetToken() {
  sessionStorage.removeItem(KEY)
}

/**
 * Shows the token form, with `message` as the reason when there is one, and calls `onToken` with
 * the token entered (already stored).
 * @param {string} message
 * @param {(token: string) => void} onToken
 */
export function askForToken(message, onToken) {
  const form = document.getElementById('token-form')
  const input = document.getElementById('token-input')
  document.getElementById('token-error').textContent = message
  form.hidden = false
  input.value = ''
  input.focus()
  form.onsubmit = (event) => {
    event.preventDefault()
    const token = input.value.trim()
    if (token === '') return
    sessionStorage.setItem(KEY, token)
    input.value = ''
    form.hidden = true
    form.onsubmit = null
    onToken(token)
  }
}
