;; Matrix-vector product in f32x4 lanes over weights packed for it once, at load.
;;
;; Source of `matvec-wasm-bytes.ts` (regenerate with `pnpm build:wasm` at the repository root).
;;
;; Layout (see packed-weights.ts): the matrix is cut into blocks of 8 rows; each block is stored
;; as column chunks of 4, and each chunk as its 8 rows of 4 floats one after another (32 floats,
;; 128 bytes). One pass over a block therefore reads its weights strictly sequentially (the
;; hardware prefetcher follows), and each 4-float slice of x, loaded once, feeds 8 rows: per 32
;; multiply-adds, 9 loads, 8 multiplies and 8 adds, in 8 independent add chains (enough to hide
;; the add latency). Rows are padded to a multiple of 8 and columns to a multiple of 4 with zeros,
;; so the zeros add nothing.
;;
;; Each row's sum is the lane-wise sum of its accumulator, reduced as (l0 + l2) + (l1 + l3); the
;; order never depends on the row or the call, so the same input gives the same output bit for
;; bit. There is no fused multiply-add (WebAssembly never fuses), so results do not depend on
;; the engine either.
(module
  (import "env" "memory" (memory 1))

  ;; [Σ a, Σ b, Σ c, Σ d] of four accumulators, each Σ as (l0 + l2) + (l1 + l3).
  (func $hsum4 (param $a v128) (param $b v128) (param $c v128) (param $d v128) (result v128)
    (local $ab v128) (local $cd v128)
    ;; ab = [a0+a2, a1+a3, b0+b2, b1+b3]
    (local.set $ab (f32x4.add
      (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $a) (local.get $b))
      (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $a) (local.get $b))))
    (local.set $cd (f32x4.add
      (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $c) (local.get $d))
      (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $c) (local.get $d))))
    (f32x4.add
      (i8x16.shuffle 0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27 (local.get $ab) (local.get $cd))
      (i8x16.shuffle 4 5 6 7 12 13 14 15 20 21 22 23 28 29 30 31 (local.get $ab) (local.get $cd))))

  ;; y[0 .. 8·blocks) = W x.
  ;; w: byte address of the packed blocks; x: byte address of 4·chunks floats; y: byte address of
  ;; 8·blocks floats; chunks >= 1.
  (func (export "matvec") (param $w i32) (param $x i32) (param $y i32) (param $blocks i32) (param $chunks i32)
    (local $c i32) (local $xp i32) (local $xv v128)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $a4 v128) (local $a5 v128) (local $a6 v128) (local $a7 v128)
    (block $done
      (loop $rows
        (br_if $done (i32.eqz (local.get $blocks)))
        (local.set $a0 (v128.const i64x2 0 0)) (local.set $a1 (v128.const i64x2 0 0))
        (local.set $a2 (v128.const i64x2 0 0)) (local.set $a3 (v128.const i64x2 0 0))
        (local.set $a4 (v128.const i64x2 0 0)) (local.set $a5 (v128.const i64x2 0 0))
        (local.set $a6 (v128.const i64x2 0 0)) (local.set $a7 (v128.const i64x2 0 0))
        (local.set $xp (local.get $x))
        (local.set $c (local.get $chunks))
        (loop $cols
          (local.set $xv (v128.load (local.get $xp)))
          (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (v128.load offset=0 (local.get $w)) (local.get $xv))))
          (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (v128.load offset=16 (local.get $w)) (local.get $xv))))
          (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (v128.load offset=32 (local.get $w)) (local.get $xv))))
          (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (v128.load offset=48 (local.get $w)) (local.get $xv))))
          (local.set $a4 (f32x4.add (local.get $a4) (f32x4.mul (v128.load offset=64 (local.get $w)) (local.get $xv))))
          (local.set $a5 (f32x4.add (local.get $a5) (f32x4.mul (v128.load offset=80 (local.get $w)) (local.get $xv))))
          (local.set $a6 (f32x4.add (local.get $a6) (f32x4.mul (v128.load offset=96 (local.get $w)) (local.get $xv))))
          (local.set $a7 (f32x4.add (local.get $a7) (f32x4.mul (v128.load offset=112 (local.get $w)) (local.get $xv))))
          (local.set $w (i32.add (local.get $w) (i32.const 128)))
          (local.set $xp (i32.add (local.get $xp) (i32.const 16)))
          (br_if $cols (local.tee $c (i32.sub (local.get $c) (i32.const 1)))))
        (v128.store offset=0 (local.get $y) (call $hsum4 (local.get $a0) (local.get $a1) (local.get $a2) (local.get $a3)))
        (v128.store offset=16 (local.get $y) (call $hsum4 (local.get $a4) (local.get $a5) (local.get $a6) (local.get $a7)))
        (local.set $y (i32.add (local.get $y) (i32.const 32)))
        (local.set $blocks (i32.sub (local.get $blocks) (i32.const 1)))
        (br $rows))))
)
