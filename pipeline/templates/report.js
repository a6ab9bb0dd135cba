
(function(){
  var panel = document.getElementById('evidence');
  var wide = window.matchMedia('(min-width:1100px)');
  function show(id, link, scroll){
    var sec = document.getElementById(id);
    if (!sec) return;
    panel.querySelectorAll('.evcell.on').forEach(function(x){ x.classList.remove('on'); });
    document.querySelectorAll('td.sel').forEach(function(x){ x.classList.remove('sel'); });
    sec.classList.add('on');
    panel.classList.add('picked');
    panel.scrollTop = 0;
    document.querySelectorAll('td > a.cell[href="#' + id + '"]').forEach(function(a){ a.parentNode.classList.add('sel'); });
    if (scroll && !wide.matches) panel.scrollIntoView({block: 'start'});
  }
  document.querySelectorAll('a.cell, a.evlink').forEach(function(a){
    a.addEventListener('click', function(ev){ ev.preventDefault(); show(a.hash.slice(1), a, true); });
  });
  var first = document.querySelector('a.cell');
  var target = location.hash && document.getElementById(location.hash.slice(1));
  if (first && !(target && target.classList.contains('evcell'))) show(first.hash.slice(1), first, false);

  // sortable tables: a click on a column header sorts by it (numbers as numbers), a second click reverses
  document.querySelectorAll('table.sortable').forEach(function(t){
    var heads = t.querySelectorAll('thead th');
    heads.forEach(function(th, i){
      th.tabIndex = 0;
      function sort(){
        var dir = th.getAttribute('aria-sort') === 'ascending' ? -1 : 1;
        heads.forEach(function(x){ x.removeAttribute('aria-sort'); });
        th.setAttribute('aria-sort', dir > 0 ? 'ascending' : 'descending');
        function key(r){ var c = r.cells[i], v = c ? (c.getAttribute('data-v') || c.textContent).trim() : '';
          var n = parseFloat(v); return isNaN(n) ? v.toLowerCase() : n; }
        var body = t.tBodies[0];
        Array.prototype.slice.call(body.rows).sort(function(a, b){
          var x = key(a), y = key(b);
          if (typeof x !== typeof y) return (typeof x === 'number' ? -1 : 1) * dir;
          return (x < y ? -1 : x > y ? 1 : 0) * dir;
        }).forEach(function(r){ body.appendChild(r); });
      }
      th.addEventListener('click', sort);
      th.addEventListener('keydown', function(e){ if (e.key === 'Enter') sort(); });
    });
  });
  // filter boxes: rows without the words typed are hidden; a group's heading row shows while one of its rows
  // does, and matching a heading shows its whole group
  document.querySelectorAll('input.filter').forEach(function(box){
    var t = document.getElementById(box.getAttribute('data-for'));
    box.addEventListener('input', function(){
      var q = box.value.trim().toLowerCase(), head = null, groupHit = false, any = false;
      function close(){ if (head) head.hidden = q !== '' && !any; }
      Array.prototype.forEach.call(t.tBodies[0].rows, function(r){
        var hit = q === '' || r.textContent.toLowerCase().indexOf(q) >= 0;
        if (r.classList.contains('region')) { close(); head = r; groupHit = q !== '' && hit; any = groupHit; return; }
        r.hidden = !(hit || groupHit); any = any || !r.hidden;
      });
      close();
    });
  });
})();
