
(function(){
  var box = document.getElementById('items'), order = document.getElementById('order');
  var filter = document.querySelector('input.filter'), shown = document.getElementById('shown');
  var items = Array.prototype.slice.call(box.children);
  function count(){ var n = items.filter(function(x){ return !x.hidden; }).length;
    shown.textContent = n + ' of ' + items.length + ' shown'; }
  filter.addEventListener('input', function(){
    var q = filter.value.trim().toLowerCase();
    items.forEach(function(x){ x.hidden = q !== '' && x.textContent.toLowerCase().indexOf(q) < 0; });
    count();
  });
  order.addEventListener('change', function(){
    var k = order.value;
    items.slice().sort(function(a, b){ return (+a.dataset[k]) - (+b.dataset[k]); })
      .forEach(function(x){ box.appendChild(x); });
  });
  count();
})();
