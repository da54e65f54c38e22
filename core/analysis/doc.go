// Package analysis holds the LoRA paper's analyses of why low rank works
// (Hu et al. 2021, Section 7) and a later one (Shuttleworth et al. 2024),
// computed on a run's own weights. It trains nothing: it reads adapters
// (core/lora, through a core/model.Model) and base or fine-tuned models, and
// answers with numbers.
//
// Conventions: a weight is (Out, In) row-major, as everywhere in golora;
// ΔW = scaling · B · A for an adapter (peft.Adapter's A is (R, In), B is
// (Out, R)) and ΔW = W_ft − W0 for full fine-tuning. Every matrix is taken to
// float64 and factorised with gonum's thin SVD (mat.SVD): M = U diag(σ) Vᵀ,
// σ descending, U (Out, k) and V (In, k) with k = min(Out, In). "Top-r
// singular vectors" means the first r columns of U or V.
//
// The analyses:
//   - Subspace similarity (the paper's Eq. 4): φ(A1, A2, i, j) =
//     ||U1^iᵀ U2^j||²_F / min(i, j) in [0, 1], where U^i are the top-i
//     singular vectors: the right singular vectors of lora_A (the paper's
//     Figures 3-4, in the input space) or the left singular vectors of ΔW (in
//     the output space). 1 when one span contains the other, 0 when they are
//     orthogonal. The control is the same grid between Gaussian matrices of
//     the same shapes; two random subspaces of dimensions i and j in R^d have
//     an expected φ of max(i, j)/d.
//   - ΔW against W (Table 7): ||Uᵀ W V||_F, with U and V the top-r singular
//     vectors of ΔW, of W itself, or of a Gaussian matrix, beside ||W||_F and
//     ||ΔW||_F. W is the pre-trained weight W0. The amplification factor is
//     the paper's (Appendix H.4): ||ΔW||_F / ||Uᵀ W V||_F with U, V those of
//     ΔW (21.5 = 6.91/0.32 at r = 4 and about 2 = 3.57/1.90 at r = 64 for
//     W_q in GPT-3's 48th layer).
//   - Spectra: the singular values of ΔW, with two effective ranks: Roy and
//     Vetterli's (2007) entropy effective rank exp(−Σ p_k ln p_k), p_k =
//     σ_k / Σσ, and the number of singular values holding 90% of ||ΔW||²_F.
//   - Intruder dimensions (Shuttleworth et al. 2024, Algorithm 1): among the
//     top k left singular vectors of the fine-tuned W (k = 10 in the paper),
//     those whose largest |cosine| with every left singular vector of W0 is
//     below ε (the paper sweeps ε; 0.5 here by default). Singular vectors are
//     defined up to sign, hence the absolute value.
//
// The figures agree natively and in wasm to about 1e-12, not bit for bit:
// gonum's BLAS uses assembly natively and Go in wasm. Nothing here feeds back
// into training, so the determinism that training keeps is not at stake.
package analysis
