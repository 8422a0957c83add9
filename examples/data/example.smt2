; MNIST addition: two handwritten digits whose sum is labelled 15.
; The network is confident that the first image shows a 7: which digit is the second?
(set-logic QF_BV)
(declare-fun d1 () (_ BitVec 4))
(declare-fun d2 () (_ BitVec 4))
(assert (bvule d1 #x9))
(assert (bvule d2 #x9))
(assert (= (bvadd ((_ zero_extend 1) d1) ((_ zero_extend 1) d2)) #b01111))
(assert (= d1 #x7))
(check-sat)
