;; KIVI attention kernels over packed 2/4/8-bit codes in linear memory, Float64 arithmetic in
;; f64x2 lanes. Source of `kivi-wasm-bytes.ts`: regenerate with `pnpm build:wasm` at the
;; repository root.
;;
;; Codes are decoded without shifts: bytes 0..8191 hold a table, filled by the caller, that maps a
;; byte to its codes as doubles (2-bit: 4 doubles, 32 bytes per entry; 4-bit: 2 doubles, 16 bytes
;; per entry), so one byte costs one load of its entry; 8-bit codes are widened with
;; v128.load8x8_u and converted in pairs. The sums are the ones of the JavaScript path in a
;; different order (lanes are partial sums), so results differ from it by rounding only: each
;; output is within γ_n·Σ|terms| of the exact sum on either path (n terms, γ_n = n·2⁻⁵³/(1 − n·2⁻⁵³)).
;;
;; Reads go up to 8 bytes past a row's codes (8-bit keys are read 8 at a time, against query
;; weights that are zero past d): callers keep 64 readable bytes after the last row.
(module
  (import "env" "memory" (memory 1))

  ;; out[r] = Σ_j qs[j]·code_j(row r) for r < rows.
  ;; codes: byte address of rows of rb bytes; qs: byte address of doubles, zero past d and padded to
  ;; a multiple of 8; out: byte address of `rows` doubles; bits: 2, 4 or 8.
  (func (export "kdots") (param $codes i32) (param $rb i32) (param $rows i32) (param $qs i32) (param $out i32) (param $bits i32)
    (local $r i32) (local $p i32) (local $row i32) (local $e i32) (local $qa i32) (local $rb2 i32)
    (local $a v128) (local $b v128) (local $v v128) (local $lo v128) (local $hi v128)
    (local.set $row (local.get $codes))
    (local.set $rb2 (i32.and (local.get $rb) (i32.const -2)))
    (block $rows_done
      (loop $rows_loop
        (br_if $rows_done (i32.ge_u (local.get $r) (local.get $rows)))
        (local.set $a (v128.const i64x2 0 0))
        (local.set $b (v128.const i64x2 0 0))
        (local.set $p (i32.const 0))
        (if (i32.eq (local.get $bits) (i32.const 2))
          (then
            (local.set $qa (local.get $qs))
            (block $d2
              (loop $l2
                (br_if $d2 (i32.ge_u (local.get $p) (local.get $rb)))
                (local.set $e (i32.shl (i32.load8_u (i32.add (local.get $row) (local.get $p))) (i32.const 5)))
                (local.set $a (f64x2.add (local.get $a) (f64x2.mul (v128.load (local.get $e)) (v128.load (local.get $qa)))))
                (local.set $b (f64x2.add (local.get $b) (f64x2.mul (v128.load offset=16 (local.get $e)) (v128.load offset=16 (local.get $qa)))))
                (local.set $p (i32.add (local.get $p) (i32.const 1)))
                (local.set $qa (i32.add (local.get $qa) (i32.const 32)))
                (br $l2)))))
        (if (i32.eq (local.get $bits) (i32.const 4))
          (then
            (local.set $qa (local.get $qs))
            (block $d4
              (loop $l4
                (br_if $d4 (i32.ge_u (local.get $p) (local.get $rb2)))
                (local.set $e (i32.shl (i32.load8_u (i32.add (local.get $row) (local.get $p))) (i32.const 4)))
                (local.set $a (f64x2.add (local.get $a) (f64x2.mul (v128.load (local.get $e)) (v128.load (local.get $qa)))))
                (local.set $e (i32.shl (i32.load8_u offset=1 (i32.add (local.get $row) (local.get $p))) (i32.const 4)))
                (local.set $b (f64x2.add (local.get $b) (f64x2.mul (v128.load (local.get $e)) (v128.load offset=16 (local.get $qa)))))
                (local.set $p (i32.add (local.get $p) (i32.const 2)))
                (local.set $qa (i32.add (local.get $qa) (i32.const 32)))
                (br $l4)))
            (if (i32.lt_u (local.get $p) (local.get $rb))
              (then
                (local.set $e (i32.shl (i32.load8_u (i32.add (local.get $row) (local.get $p))) (i32.const 4)))
                (local.set $a (f64x2.add (local.get $a) (f64x2.mul (v128.load (local.get $e)) (v128.load (local.get $qa)))))))))
        (if (i32.eq (local.get $bits) (i32.const 8))
          (then
            (local.set $qa (local.get $qs))
            (block $d8
              (loop $l8
                (br_if $d8 (i32.ge_u (local.get $p) (local.get $rb)))
                (local.set $v (v128.load8x8_u (i32.add (local.get $row) (local.get $p))))
                (local.set $lo (i32x4.extend_low_i16x8_u (local.get $v)))
                (local.set $hi (i32x4.extend_high_i16x8_u (local.get $v)))
                (local.set $a (f64x2.add (local.get $a) (f64x2.mul (f64x2.convert_low_i32x4_u (local.get $lo)) (v128.load (local.get $qa)))))
                (local.set $b (f64x2.add (local.get $b) (f64x2.mul
                  (f64x2.convert_low_i32x4_u (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $lo) (local.get $lo)))
                  (v128.load offset=16 (local.get $qa)))))
                (local.set $a (f64x2.add (local.get $a) (f64x2.mul (f64x2.convert_low_i32x4_u (local.get $hi)) (v128.load offset=32 (local.get $qa)))))
                (local.set $b (f64x2.add (local.get $b) (f64x2.mul
                  (f64x2.convert_low_i32x4_u (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $hi) (local.get $hi)))
                  (v128.load offset=48 (local.get $qa)))))
                (local.set $p (i32.add (local.get $p) (i32.const 8)))
                (local.set $qa (i32.add (local.get $qa) (i32.const 64)))
                (br $l8)))))
        (local.set $a (f64x2.add (local.get $a) (local.get $b)))
        (f64.store (local.get $out)
          (f64.add (f64x2.extract_lane 0 (local.get $a)) (f64x2.extract_lane 1 (local.get $a))))
        (local.set $out (i32.add (local.get $out) (i32.const 8)))
        (local.set $row (i32.add (local.get $row) (local.get $rb)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $rows_loop))))

  ;; For rows r < rows with weight w[r], and each value group c < vg (bytes [c·gb, min((c+1)·gb,
  ;; rb)) of the row, aligned): acc[j] += w[r]·scale[r·vg + c]·code_j and zacc[c] += w[r]·zero[r·vg + c].
  ;; codes: rows of rb bytes; scale, zero: f32 (stride vg); w, acc, zacc: doubles.
  (func (export "vaccum") (param $codes i32) (param $rb i32) (param $rows i32) (param $scale i32) (param $zero i32)
    (param $vg i32) (param $gb i32) (param $w i32) (param $acc i32) (param $zacc i32) (param $bits i32)
    (local $r i32) (local $c i32) (local $p i32) (local $p1 i32) (local $row i32) (local $e i32) (local $ap i32)
    (local $sz i32) (local $za i32) (local $wr f64) (local $av v128) (local $v v128) (local $lo v128) (local $hi v128)
    (local.set $row (local.get $codes))
    (block $rows_done
      (loop $rows_loop
        (br_if $rows_done (i32.ge_u (local.get $r) (local.get $rows)))
        (local.set $wr (f64.load (local.get $w)))
        (local.set $c (i32.const 0))
        (local.set $p (i32.const 0))
        (local.set $za (local.get $zacc))
        (block $groups_done
          (loop $groups
            (br_if $groups_done (i32.ge_u (local.get $c) (local.get $vg)))
            (local.set $sz (i32.add (local.get $scale) (i32.shl (local.get $c) (i32.const 2))))
            (f64.store (local.get $za) (f64.add (f64.load (local.get $za))
              (f64.mul (local.get $wr) (f64.promote_f32 (f32.load (i32.add (local.get $zero) (i32.shl (local.get $c) (i32.const 2))))))))
            (local.set $av (f64x2.splat (f64.mul (local.get $wr) (f64.promote_f32 (f32.load (local.get $sz))))))
            (local.set $p1 (i32.add (local.get $p) (local.get $gb)))
            (if (i32.gt_u (local.get $p1) (local.get $rb)) (then (local.set $p1 (local.get $rb))))
            (if (i32.eq (local.get $bits) (i32.const 2))
              (then
                (local.set $ap (i32.add (local.get $acc) (i32.shl (local.get $p) (i32.const 5))))
                (block $d2
                  (loop $l2
                    (br_if $d2 (i32.ge_u (local.get $p) (local.get $p1)))
                    (local.set $e (i32.shl (i32.load8_u (i32.add (local.get $row) (local.get $p))) (i32.const 5)))
                    (v128.store (local.get $ap) (f64x2.add (v128.load (local.get $ap)) (f64x2.mul (local.get $av) (v128.load (local.get $e)))))
                    (v128.store offset=16 (local.get $ap)
                      (f64x2.add (v128.load offset=16 (local.get $ap)) (f64x2.mul (local.get $av) (v128.load offset=16 (local.get $e)))))
                    (local.set $p (i32.add (local.get $p) (i32.const 1)))
                    (local.set $ap (i32.add (local.get $ap) (i32.const 32)))
                    (br $l2)))))
            (if (i32.eq (local.get $bits) (i32.const 4))
              (then
                (local.set $ap (i32.add (local.get $acc) (i32.shl (local.get $p) (i32.const 4))))
                (block $d4
                  (loop $l4
                    (br_if $d4 (i32.ge_u (local.get $p) (local.get $p1)))
                    (local.set $e (i32.shl (i32.load8_u (i32.add (local.get $row) (local.get $p))) (i32.const 4)))
                    (v128.store (local.get $ap) (f64x2.add (v128.load (local.get $ap)) (f64x2.mul (local.get $av) (v128.load (local.get $e)))))
                    (local.set $p (i32.add (local.get $p) (i32.const 1)))
                    (local.set $ap (i32.add (local.get $ap) (i32.const 16)))
                    (br $l4)))))
            (if (i32.eq (local.get $bits) (i32.const 8))
              (then
                (local.set $ap (i32.add (local.get $acc) (i32.shl (local.get $p) (i32.const 3))))
                (block $d8
                  (loop $l8
                    (br_if $d8 (i32.gt_u (i32.add (local.get $p) (i32.const 8)) (local.get $p1)))
                    (local.set $v (v128.load8x8_u (i32.add (local.get $row) (local.get $p))))
                    (local.set $lo (i32x4.extend_low_i16x8_u (local.get $v)))
                    (local.set $hi (i32x4.extend_high_i16x8_u (local.get $v)))
                    (v128.store (local.get $ap) (f64x2.add (v128.load (local.get $ap))
                      (f64x2.mul (local.get $av) (f64x2.convert_low_i32x4_u (local.get $lo)))))
                    (v128.store offset=16 (local.get $ap) (f64x2.add (v128.load offset=16 (local.get $ap))
                      (f64x2.mul (local.get $av) (f64x2.convert_low_i32x4_u
                        (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $lo) (local.get $lo))))))
                    (v128.store offset=32 (local.get $ap) (f64x2.add (v128.load offset=32 (local.get $ap))
                      (f64x2.mul (local.get $av) (f64x2.convert_low_i32x4_u (local.get $hi)))))
                    (v128.store offset=48 (local.get $ap) (f64x2.add (v128.load offset=48 (local.get $ap))
                      (f64x2.mul (local.get $av) (f64x2.convert_low_i32x4_u
                        (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $hi) (local.get $hi))))))
                    (local.set $p (i32.add (local.get $p) (i32.const 8)))
                    (local.set $ap (i32.add (local.get $ap) (i32.const 64)))
                    (br $l8)))
                (block $t8
                  (loop $s8
                    (br_if $t8 (i32.ge_u (local.get $p) (local.get $p1)))
                    (f64.store (local.get $ap) (f64.add (f64.load (local.get $ap))
                      (f64.mul (f64x2.extract_lane 0 (local.get $av))
                        (f64.convert_i32_u (i32.load8_u (i32.add (local.get $row) (local.get $p)))))))
                    (local.set $p (i32.add (local.get $p) (i32.const 1)))
                    (local.set $ap (i32.add (local.get $ap) (i32.const 8)))
                    (br $s8)))))
            (local.set $za (i32.add (local.get $za) (i32.const 8)))
            (local.set $c (i32.add (local.get $c) (i32.const 1)))
            (br $groups)))
        (local.set $scale (i32.add (local.get $scale) (i32.shl (local.get $vg) (i32.const 2))))
        (local.set $zero (i32.add (local.get $zero) (i32.shl (local.get $vg) (i32.const 2))))
        (local.set $w (i32.add (local.get $w) (i32.const 8)))
        (local.set $row (i32.add (local.get $row) (local.get $rb)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $rows_loop))))
)
