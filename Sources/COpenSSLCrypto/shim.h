#include <openssl/evp.h>

// AES-256-GCM over a caller's buffer, in place: `data` (len bytes) is replaced by its
// ciphertext (seal) or plaintext (open). Returns 1 on success, 0 on failure (open: the tag
// did not authenticate). A wrapper because OpenSSL's control codes are macros.
static inline int coffer_aes256gcm(int encrypt, const unsigned char *key, const unsigned char *nonce12,
                                   const unsigned char *aad, int aadlen, unsigned char *data, int len,
                                   unsigned char *tag16) {
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL) return 0;
    int ok = 0, n = 0;
    if (EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, nonce12, encrypt) != 1) goto done;
    if (aadlen > 0 && EVP_CipherUpdate(ctx, NULL, &n, aad, aadlen) != 1) goto done;
    if (len > 0 && EVP_CipherUpdate(ctx, data, &n, data, len) != 1) goto done;
    if (!encrypt && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16, tag16) != 1) goto done;
    if (EVP_CipherFinal_ex(ctx, data + len, &n) != 1) goto done;
    if (encrypt && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, tag16) != 1) goto done;
    ok = 1;
done:
    EVP_CIPHER_CTX_free(ctx);
    return ok;
}
